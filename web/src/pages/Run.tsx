import { Suspense, useEffect, useRef, useState } from "react";
import { api, enc, taskApiPath, taskPath, useEngineEvents, usePoll, type DagDetail, type LogLine, type RunDetail, type TaskDetail, type TaskInstance, type TaskState } from "../api.ts";
import { ErrorBox, Link, Loading, StateBadge, TaskFailure, Value, formatMs, formatTime, mappedLabel, mappedWords } from "../ui.tsx";
import { Graph } from "./Dag.tsx";

const FINISHED = new Set(["success", "failed"]);

/** `task`, or `task[2]` for one instance of a mapped task (as `venvflow runs show` prints it). */
const instanceName = (x: { taskId: string; mapIndex: number }): string => (x.mapIndex >= 0 ? `${x.taskId}[${x.mapIndex}]` : x.taskId);

export function RunPage({ dagId, runId }: { dagId: string; runId: string }) {
  // Polling catches changes by workers in other processes; the event stream makes the server's own instant.
  const run = usePoll<RunDetail>(`/api/dags/${enc(dagId)}/runs/${enc(runId)}`, 2000);
  useEngineEvents({ dagId, runId }, run.reload);
  const dag = usePoll<DagDetail>(`/api/dags/${enc(dagId)}`, 0);
  const [actionError, setActionError] = useState<{ message: string; fix?: string } | null>(null);
  if (run.error) return <ErrorBox error={run.error} />;
  if (!run.data) return <Loading what="the run" />;
  const r = run.data;
  // A mapped task's node shows its group's state (one failed index makes it failed, as in Airflow).
  const states: Record<string, TaskState> = Object.fromEntries(r.taskInstances.map((t) => [t.taskId, r.mapped[t.taskId]?.state ?? t.state]));
  const cancel = async (): Promise<void> => {
    try {
      await api(`/api/dags/${enc(dagId)}/runs/${enc(runId)}/cancel`, { method: "POST", body: {} });
      run.reload();
    } catch (e) {
      setActionError({ message: String(e) });
    }
  };
  return (
    <main>
      <header className="page-header">
        <div>
          <p className="breadcrumbs">
            <Link to="/">DAGs</Link> / <Link to={`/dags/${enc(dagId)}`}>{dagId}</Link> /
          </p>
          <h1>
            Run {r.runId} <StateBadge state={r.state} />
          </h1>
          <p className="muted small">
            {r.runType} · logical date {formatTime(r.logicalDate)} · queued {formatTime(r.queuedAt)} · started {formatTime(r.startedAt)} · ended {formatTime(r.endedAt)}
          </p>
          {Object.keys(r.conf).length > 0 ? (
            <details>
              <summary>Conf</summary>
              <Value value={r.conf} />
            </details>
          ) : null}
        </div>
        <div className="actions">
          {!FINISHED.has(r.state) ? (
            <button type="button" className="danger" onClick={() => void cancel()}>
              ■ Cancel run
            </button>
          ) : null}
        </div>
      </header>
      <ErrorBox error={actionError} />
      <section aria-label="Graph">
        <h2>Graph</h2>
        {dag.data ? (
          <Suspense fallback={<Loading what="the graph" />}>
            <Graph tasks={dag.data.tasks} states={states} hrefFor={(t) => `/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(t)}`} />
          </Suspense>
        ) : (
          <Loading what="the graph" />
        )}
      </section>
      <section aria-label="Waterfall">
        <h2>Waterfall</h2>
        <Gantt tasks={r.taskInstances} dagId={dagId} runId={runId} />
      </section>
      {Object.keys(r.mapped).length > 0 ? (
        <section aria-label="Mapped tasks">
          <h2>Mapped tasks</h2>
          <ul className="mapped-list">
            {Object.entries(r.mapped).map(([taskId, m]) => (
              <li key={taskId}>
                <Link to={taskPath(dagId, runId, taskId)} label={`${taskId}: ${m.state}, ${mappedWords(m)}`}>
                  <StateBadge state={m.state} compact /> {taskId}
                </Link>{" "}
                <span className="muted">{mappedLabel(m)}</span>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </main>
  );
}

/** One bar per task: queued (waiting for a worker), environment (building or finding its environment), execution. */
function Gantt({ tasks, dagId, runId }: { tasks: TaskInstance[]; dagId: string; runId: string }) {
  const t = (iso: string | null): number | null => (iso ? Date.parse(iso) : null);
  const now = Date.now();
  const starts = tasks.map((x) => t(x.queuedAt) ?? t(x.startedAt)).filter((v): v is number => v !== null);
  if (starts.length === 0) return <p className="muted">No task has started yet.</p>;
  const begin = Math.min(...starts);
  const end = Math.max(...tasks.map((x) => t(x.endedAt) ?? (x.startedAt ? now : (t(x.queuedAt) ?? begin))), begin + 1);
  const pct = (v: number): string => `${(((v - begin) / (end - begin)) * 100).toFixed(2)}%`;
  const width = (a: number, b: number): string => `${Math.max(0.4, ((b - a) / (end - begin)) * 100).toFixed(2)}%`;
  return (
    <div className="gantt">
      <p className="legend">
        <span className="seg seg-queued" aria-hidden="true" /> queued <span className="seg seg-env" aria-hidden="true" /> environment <span className="seg seg-exec" aria-hidden="true" /> execution
      </p>
      {tasks.map((x) => {
        const queued = t(x.queuedAt);
        const started = t(x.startedAt);
        const execStart = t(x.environment.executionStartedAt);
        const ended = t(x.endedAt) ?? (started ? now : null);
        const envEnd = execStart ?? (started && x.environment.envStartedAt ? (ended ?? now) : started);
        const segments: { cls: string; from: number; to: number; label: string }[] = [];
        if (queued !== null && started !== null) segments.push({ cls: "seg-queued", from: queued, to: started, label: `queued ${formatMs(started - queued)}` });
        if (started !== null && envEnd !== null && envEnd > started) segments.push({ cls: "seg-env", from: started, to: envEnd, label: `environment ${formatMs(envEnd - started)}${x.environment.cacheHit === true ? " (cached)" : x.environment.cacheHit === false ? " (built)" : ""}` });
        const execFrom = envEnd ?? started;
        if (execFrom !== null && ended !== null && ended > execFrom) segments.push({ cls: "seg-exec", from: execFrom, to: ended, label: `execution ${formatMs(ended - execFrom)}` });
        return (
          <div className="gantt-row" key={`${x.taskId}[${x.mapIndex}]`}>
            <Link to={taskPath(dagId, runId, x.taskId, x.mapIndex)} className="gantt-label">
              <StateBadge state={x.state} compact /> {instanceName(x)}
            </Link>
            <div className="gantt-track" role="img" aria-label={`${instanceName(x)}: ${segments.map((s) => s.label).join(", ") || "not started"}`}>
              {segments.map((s) => (
                <span key={s.cls} className={`seg ${s.cls}`} style={{ left: pct(s.from), width: width(s.from, s.to) }} title={s.label} />
              ))}
            </div>
            <span className="gantt-total small muted">{segments.map((s) => s.label).join(" · ")}</span>
          </div>
        );
      })}
    </div>
  );
}

/** A mapped task's instances in a run, each linking to its own page (state, log). */
function MappedInstances({ dagId, runId, taskId, current }: { dagId: string; runId: string; taskId: string; current: number }) {
  const run = usePoll<RunDetail>(`/api/dags/${enc(dagId)}/runs/${enc(runId)}`, 2000);
  if (!run.data) return <Loading what="the map indexes" />;
  const instances = run.data.taskInstances.filter((x) => x.taskId === taskId && x.mapIndex >= 0);
  const summary = run.data.mapped[taskId];
  return (
    <nav aria-label="Map indexes" className="map-indexes">
      <p>
        {summary ? <StateBadge state={summary.state} /> : null} {summary ? mappedLabel(summary) : null}
      </p>
      <ul className="mapped-list">
        {instances.map((x) => (
          <li key={x.mapIndex}>
            <Link to={taskPath(dagId, runId, taskId, x.mapIndex)} label={`map index ${x.mapIndex}: ${x.state}`} className={x.mapIndex === current ? "current" : undefined}>
              [{x.mapIndex}] <StateBadge state={x.state} compact />
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** DAGs / dag / run / — the way back from a task instance's page. */
function RunCrumbs({ dagId, runId }: { dagId: string; runId: string }) {
  return (
    <p className="breadcrumbs">
      <Link to="/">DAGs</Link> / <Link to={`/dags/${enc(dagId)}`}>{dagId}</Link> / <Link to={`/dags/${enc(dagId)}/runs/${enc(runId)}`}>{runId}</Link> /
    </p>
  );
}

export function TaskPage({ dagId, runId, taskId, mapIndex }: { dagId: string; runId: string; taskId: string; mapIndex: number }) {
  const ti = usePoll<TaskDetail>(taskApiPath(dagId, runId, taskId, mapIndex), 1000);
  const [downstream, setDownstream] = useState(true);
  // On one instance of a mapped task, clear and mark act on that instance alone unless unticked (as in Airflow).
  const [onlyThis, setOnlyThis] = useState(true);
  const [logTry, setLogTry] = useState<number | null>(null);
  const [message, setMessage] = useState<{ message: string; fix?: string } | null>(null);
  if (ti.error?.body.code === "map_index_required") {
    return (
      <main>
        <header className="page-header">
          <div>
            <RunCrumbs dagId={dagId} runId={runId} />
            <h1>
              <span className="task-id">{taskId}</span> <span className="muted">(mapped)</span>
            </h1>
          </div>
        </header>
        <MappedInstances dagId={dagId} runId={runId} taskId={taskId} current={-1} />
      </main>
    );
  }
  if (ti.error) return <ErrorBox error={ti.error} />;
  if (!ti.data) return <Loading what="the task instance" />;
  const d = ti.data;
  const shownTry = logTry ?? d.tryNumber;
  const act = async (path: string, body: unknown, done: string): Promise<void> => {
    setMessage(null);
    try {
      // Without mapIndexes, clear and mark act on the whole task (every map index of a mapped one), as the API does.
      const scoped = mapIndex >= 0 && onlyThis ? { ...(body as object), mapIndexes: [mapIndex] } : body;
      const res = await api<{ cleared?: string[]; changed?: string[] }>(`/api/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}/${path}`, { method: "POST", body: scoped });
      setMessage({ message: `${done}: ${(res.cleared ?? res.changed ?? []).join(", ") || "nothing changed"}` });
      ti.reload();
    } catch (e) {
      setMessage(e instanceof Error && "body" in e ? (e as { body: { message: string; fix?: string } }).body : { message: String(e) });
    }
  };
  return (
    <main>
      <header className="page-header">
        <div>
          <RunCrumbs dagId={dagId} runId={runId} />
          <h1>
            <span className="task-id">{taskId}</span>
            {mapIndex >= 0 ? <span className="map-index"> [{mapIndex}]</span> : null} <StateBadge state={d.state} />
          </h1>
          <p className="muted small">
            {d.task?.kind ?? "task"} · try {d.tryNumber} of {d.maxTries + 1} · started {formatTime(d.startedAt)} · {formatMs(d.durationMs)}
            {d.task?.callable ? ` · ${d.task.callable}` : ""}
          </p>
        </div>
        <div className="actions task-actions">
          {mapIndex >= 0 ? (
            <label>
              <input type="checkbox" checked={onlyThis} onChange={(e) => setOnlyThis(e.target.checked)} /> only [{mapIndex}]
            </label>
          ) : null}
          <label>
            <input type="checkbox" checked={downstream} onChange={(e) => setDownstream(e.target.checked)} /> with downstream
          </label>
          <button type="button" onClick={() => void act("clear", { downstream }, "Cleared")}>
            ↻ Clear
          </button>
          <button type="button" onClick={() => void act("mark", { state: "success", downstream }, "Marked success")}>
            ✓ Mark success
          </button>
          <button type="button" className="danger" onClick={() => void act("mark", { state: "failed", downstream }, "Marked failed")}>
            ✗ Mark failed
          </button>
        </div>
      </header>
      {mapIndex >= 0 ? <MappedInstances dagId={dagId} runId={runId} taskId={taskId} current={mapIndex} /> : null}
      {message ? (
        <p className="notice" role="status">
          {message.message}
          {message.fix ? ` — ${message.fix}` : ""}
        </p>
      ) : null}
      {d.error && (d.state === "failed" || d.state === "up_for_retry") ? <TaskFailure error={d.error} /> : null}
      <div className="two-columns">
        <section aria-label="Return value">
          <h2>Return value</h2>
          {d.hasReturnValue ? <Value value={d.returnValue} /> : <p className="muted">None stored.</p>}
          {d.xcoms.filter((x) => x.key !== "return_value").map((x) => (
            <div key={x.key}>
              <h3>{x.key}</h3>
              <Value value={x.value} />
            </div>
          ))}
        </section>
        <section aria-label="Environment">
          <h2>Environment</h2>
          {d.environment.envKeyPrefix ? (
            <p>
              <Link to={`/environments/${enc(d.environment.envKeyPrefix)}`}>{d.environment.envKeyPrefix}</Link>{" "}
              {d.environment.cacheHit === true ? "(cache hit)" : d.environment.cacheHit === false ? "(built for this try)" : ""}
            </p>
          ) : (
            <p className="muted">{d.task?.environment?.python ? `external interpreter ${d.task.environment.python}` : "no Python environment"}</p>
          )}
          {d.task?.environment ? (
            <p className="small muted">
              Python {d.task.environment.pythonVersion ?? "default"} · requirements {Array.isArray(d.task.environment.requirements) ? d.task.environment.requirements.join(", ") || "none" : (d.task.environment.requirements ?? "none")}
            </p>
          ) : null}
        </section>
      </div>
      <section aria-label="Tries">
        <h2>Tries</h2>
        {d.tries.length === 0 ? <p className="muted">No finished try yet.</p> : null}
        <ul className="tries">
          {d.tries.map((t) => (
            <li key={t.tryNumber}>
              <button type="button" className="link-button" onClick={() => setLogTry(t.tryNumber)} aria-label={`Show the log of try ${t.tryNumber}`}>
                try {t.tryNumber}
              </button>
              : <StateBadge state={t.state} /> {formatTime(t.startedAt)} · {formatMs(t.durationMs)}
              {t.error ? <span className="muted"> — {t.error.type}: {t.error.message.split("\n")[0]}</span> : null}
            </li>
          ))}
        </ul>
      </section>
      <section aria-label="Log">
        <h2>Log {shownTry > 0 ? <span className="muted small">(try {shownTry})</span> : null}</h2>
        {shownTry !== d.tryNumber ? (
          <button type="button" className="link-button" onClick={() => setLogTry(null)}>
            Follow the current try ({d.tryNumber})
          </button>
        ) : null}
        {shownTry > 0 ? <LiveLog key={`${shownTry}`} url={`/api/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}/logs/stream?try=${shownTry}${mapIndex >= 0 ? `&mapIndex=${mapIndex}` : ""}`} /> : <p className="muted">Not started.</p>}
      </section>
    </main>
  );
}

/** Follows a try's log over Server-Sent Events; scrolls with new lines unless the reader scrolled up. */
function LiveLog({ url }: { url: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [ended, setEnded] = useState(false);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLines([]);
    setEnded(false);
    const source = new EventSource(url);
    source.addEventListener("line", (e) => setLines((prev) => [...prev, JSON.parse((e as MessageEvent<string>).data) as LogLine]));
    source.addEventListener("end", () => {
      setEnded(true);
      source.close();
    });
    return () => source.close();
  }, [url]);
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <>
      <p className="small muted" role="status">
        {ended ? `${lines.length} lines, complete` : `following… ${lines.length} lines`}
      </p>
      <pre className="log" ref={box} tabIndex={0} aria-label="Task log" aria-live="polite">
        {lines.map((l, i) => (
          <div key={i} className={`log-line log-${l.stream} ${l.level === "ERROR" ? "log-error" : ""}`}>
            <span className="log-ts">{l.ts.slice(11, 23)}</span> <span className="log-stream">{l.stream}</span> {l.msg}
          </div>
        ))}
      </pre>
    </>
  );
}
