import { lazy, Suspense, useState } from "react";
import { api, ApiError, enc, taskPath, useEngineEvents, usePoll, type DagDetail, type Grid, type Run, type RunState, type TaskState } from "../api.ts";
import { ErrorBox, Link, Loading, StateBadge, formatMs, formatTime, mappedLabel, mappedWords, navigate } from "../ui.tsx";

export const Graph = lazy(() => import("../Graph.tsx"));

export function DagHeader({ dag, reload }: { dag: DagDetail; reload: () => void }) {
  const toggle = async (): Promise<void> => {
    await api(`/api/dags/${enc(dag.dagId)}`, { method: "PATCH", body: { paused: !dag.paused } });
    reload();
  };
  return (
    <header className="page-header">
      <div>
        <p className="breadcrumbs">
          <Link to="/">DAGs</Link> /
        </p>
        <h1>{dag.dagId}</h1>
        {dag.description ? <p className="muted">{dag.description}</p> : null}
        <p className="muted small">
          schedule <code>{dag.schedule ?? "manual"}</code> · next run {dag.nextRunAt ? formatTime(dag.nextRunAt) : "–"} · {dag.fileloc}
        </p>
      </div>
      <div className="actions">
        <label className="switch">
          <input type="checkbox" role="switch" checked={!dag.paused} onChange={() => void toggle()} aria-label={dag.paused ? "Unpause DAG" : "Pause DAG"} />
          <span>{dag.paused ? "paused" : "active"}</span>
        </label>
        <Link to={`/dags/${enc(dag.dagId)}/trigger`} className="button primary">
          ▶ Trigger
        </Link>
      </div>
    </header>
  );
}

export function DagPage({ dagId }: { dagId: string }) {
  const dag = usePoll<DagDetail>(`/api/dags/${enc(dagId)}`, 3000);
  const grid = usePoll<Grid>(`/api/dags/${enc(dagId)}/grid?limit=25`, 2000);
  useEngineEvents({ dagId }, grid.reload);
  const [doctor, setDoctor] = useState<DoctorReport | { error: string } | null>(null);
  const [doctoring, setDoctoring] = useState(false);
  if (dag.error) return <ErrorBox error={dag.error} />;
  if (!dag.data) return <Loading what="the DAG" />;
  const latest = grid.data?.runs[0];
  const states: Record<string, TaskState> = Object.fromEntries(Object.entries(latest?.taskInstances ?? {}).map(([k, v]) => [k, v.state]));
  const runDoctor = async (): Promise<void> => {
    setDoctoring(true);
    try {
      setDoctor(await api<DoctorReport>(`/api/dags/${enc(dagId)}/doctor`));
    } catch (e) {
      setDoctor({ error: String(e) });
    } finally {
      setDoctoring(false);
    }
  };
  return (
    <main>
      <DagHeader dag={dag.data} reload={dag.reload} />
      {dag.data.loadError ? <ErrorBox title="The DAG file fails to load; this is its last good version" error={dag.data.loadError} /> : null}
      {dag.data.schedule !== null ? <BackfillForm dagId={dagId} onDone={grid.reload} /> : null}
      <section aria-label="Grid">
        <h2>Grid</h2>
        {!grid.data ? <Loading what="runs" /> : <GridView grid={grid.data} />}
      </section>
      <section aria-label="Graph">
        <h2>
          Graph {latest ? <span className="muted small">(run {latest.runId})</span> : null}
        </h2>
        <Suspense fallback={<Loading what="the graph" />}>
          <Graph tasks={dag.data.tasks} states={states} {...(latest ? { hrefFor: (t: string) => `/dags/${enc(dagId)}/runs/${enc(latest.runId)}/tasks/${enc(t)}` } : {})} />
        </Suspense>
      </section>
      <RunsTable dagId={dagId} />
      <section aria-label="Doctor">
        <h2>Doctor</h2>
        <button type="button" onClick={() => void runDoctor()} disabled={doctoring}>
          {doctoring ? "Checking…" : "Check this DAG's Python tasks"}
        </button>
        {doctor ? <DoctorView report={doctor} /> : null}
      </section>
      <details>
        <summary>Source</summary>
        <SourceView dagId={dagId} />
      </details>
    </main>
  );
}

/** Whole UTC days, the end day included to its last instant, so an hourly schedule gets every hour of it. */
function BackfillForm({ dagId, onDone }: { dagId: string; onDone: () => void }) {
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ created: string[]; existing: number } | null>(null);
  const [error, setError] = useState<ApiError | { message: string } | null>(null);
  const submit = async (): Promise<void> => {
    setError(null);
    setResult(null);
    setBusy(true);
    try {
      setResult(await api<{ created: string[]; existing: number }>(`/api/dags/${enc(dagId)}/backfill`, { method: "POST", body: { start: `${start}T00:00:00Z`, end: `${end}T23:59:59.999Z` } }));
      onDone();
    } catch (e) {
      setError(e instanceof ApiError ? e : { message: String(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-label="Backfill">
      <form
        className="backfill-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <strong>Backfill</strong>
        <label>
          from <input type="date" required value={start} onChange={(e) => setStart(e.target.value)} aria-label="Backfill start date (UTC)" />
        </label>
        <label>
          to <input type="date" required value={end} onChange={(e) => setEnd(e.target.value)} aria-label="Backfill end date (UTC, included)" />
        </label>
        <span className="muted small">UTC, both days included</span>
        <button type="submit" disabled={busy}>
          {busy ? "Queuing…" : "Backfill"}
        </button>
        {result ? (
          <span role="status">
            {result.created.length} run(s) queued{result.existing > 0 ? `, ${result.existing} date(s) already had a run` : ""}
          </span>
        ) : null}
      </form>
      <ErrorBox error={error} title="Not backfilled" />
    </section>
  );
}

interface DoctorReport {
  findings: { code: string; severity: "error" | "warning"; taskId: string; file: string; line?: number; message: string; fix: string }[];
  tasks: number;
  errors: number;
  warnings: number;
}

function DoctorView({ report }: { report: DoctorReport | { error: string } }) {
  if ("error" in report) return <ErrorBox error={{ message: report.error }} />;
  return (
    <div className="doctor" role="status">
      <p>
        {report.errors === 0 && report.warnings === 0 ? "✓ " : "⚠ "}
        {report.errors} error{report.errors === 1 ? "" : "s"}, {report.warnings} warning{report.warnings === 1 ? "" : "s"} in {report.tasks} Python task{report.tasks === 1 ? "" : "s"}
      </p>
      {report.findings.map((f, i) => (
        <div key={i} className="error-box">
          <strong>
            {f.severity === "error" ? "✗ error" : "⚠ warning"} {f.taskId}
          </strong>{" "}
          <code>{f.code}</code>{" "}
          <span className="muted small">
            {f.file}
            {f.line ? `:${f.line}` : ""}
          </span>
          <pre className="message">{f.message}</pre>
          <p className="fix">
            <strong>Fix: </strong>
            {f.fix}
          </p>
        </div>
      ))}
    </div>
  );
}

const RUN_STATES: RunState[] = ["queued", "running", "success", "failed"];

function RunsTable({ dagId }: { dagId: string }) {
  const [state, setState] = useState<RunState | "">("");
  const { data } = usePoll<Run[]>(`/api/dags/${enc(dagId)}/runs?limit=50${state ? `&state=${state}` : ""}`, 2000);
  const duration = (r: Run): string => (r.startedAt && r.endedAt ? formatMs(Date.parse(r.endedAt) - Date.parse(r.startedAt)) : "–");
  return (
    <section aria-label="Runs">
      <h2>Runs</h2>
      <label>
        State{" "}
        <select value={state} onChange={(e) => setState(e.target.value as RunState | "")} aria-label="Filter runs by state">
          <option value="">all</option>
          {RUN_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      {!data ? (
        <Loading what="runs" />
      ) : data.length === 0 ? (
        <p className="muted">No runs{state ? ` in state ${state}` : ""}.</p>
      ) : (
        <table className="runs-table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              <th scope="col">Type</th>
              <th scope="col">Logical date</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {data.map((r) => (
              <tr key={r.runId}>
                <td>
                  <Link to={`/dags/${enc(dagId)}/runs/${enc(r.runId)}`}>{r.runId}</Link>
                </td>
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td>{r.runType}</td>
                <td>{formatTime(r.logicalDate)}</td>
                <td>{formatTime(r.startedAt)}</td>
                <td>{duration(r)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function SourceView({ dagId }: { dagId: string }) {
  const { data } = usePoll<{ source: string; fileloc: string }>(`/api/dags/${enc(dagId)}/source`, 0);
  return data ? <pre className="source-code">{data.source}</pre> : <Loading what="the source" />;
}

function GridView({ grid }: { grid: Grid }) {
  if (grid.runs.length === 0) return <p className="muted">No runs yet. Trigger one.</p>;
  const runs = grid.runs.slice().reverse();
  return (
    <div className="grid-scroll">
      <table className="grid">
        <thead>
          <tr>
            <th scope="col">Task</th>
            {runs.map((r) => (
              <th scope="col" key={r.runId} className="grid-run">
                <Link to={`/dags/${enc(grid.dagId)}/runs/${enc(r.runId)}`} label={`run ${r.runId}: ${r.state}`}>
                  <StateBadge state={r.state} compact />
                </Link>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.tasks.map((t) => (
            <tr key={t.taskId}>
              <th scope="row">
                {t.taskId}
                {t.mapped ? <span className="muted small"> [ ]</span> : null}
              </th>
              {runs.map((r) => {
                const ti = r.taskInstances[t.taskId];
                // A mapped task's cell opens the list of its map indexes.
                const words = ti?.mapped ? `, ${mappedWords(ti.mapped)}` : "";
                return (
                  <td key={r.runId}>
                    {ti ? (
                      <button type="button" className="cell" onClick={() => navigate(taskPath(grid.dagId, r.runId, t.taskId))} aria-label={`${t.taskId} in ${r.runId}: ${ti.state}${words}${ti.tryNumber > 1 ? `, try ${ti.tryNumber}` : ""}`} title={ti.mapped ? mappedLabel(ti.mapped) : undefined}>
                        <StateBadge state={ti.state} compact />
                        {ti.mapped ? (
                          <span className="mapped-count" aria-hidden="true">
                            {ti.mapped.count}
                          </span>
                        ) : null}
                        {ti.tryNumber > 1 ? <sup>{ti.tryNumber}</sup> : null}
                      </button>
                    ) : null}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function TriggerPage({ dagId }: { dagId: string }) {
  const dag = usePoll<DagDetail>(`/api/dags/${enc(dagId)}`, 0);
  const [values, setValues] = useState<Record<string, string>>({});
  const [runId, setRunId] = useState("");
  const [extraConf, setExtraConf] = useState("");
  const [error, setError] = useState<{ message: string; fix?: string; code?: string } | null>(null);
  if (dag.error) return <ErrorBox error={dag.error} />;
  if (!dag.data) return <Loading what="the DAG" />;
  const params = dag.data.params;
  const submit = async (): Promise<void> => {
    setError(null);
    const conf: Record<string, unknown> = {};
    for (const [key, def] of Object.entries(params)) {
      const text = values[key];
      if (text === undefined) continue;
      if (typeof def === "string") conf[key] = text;
      else {
        try {
          conf[key] = JSON.parse(text) as unknown;
        } catch {
          setError({ message: `"${key}" is not valid JSON`, fix: `enter a value like ${JSON.stringify(def)}` });
          return;
        }
      }
    }
    if (extraConf.trim()) {
      let extra: unknown;
      try {
        extra = JSON.parse(extraConf) as unknown;
      } catch {
        extra = undefined;
      }
      if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
        setError({ message: "the extra conf is not a JSON object", fix: 'enter e.g. {"key": "value"}, or leave it empty' });
        return;
      }
      Object.assign(conf, extra);
    }
    try {
      const run = await api<{ runId: string }>(`/api/dags/${enc(dagId)}/runs`, { method: "POST", body: { conf, ...(runId ? { runId } : {}) } });
      navigate(`/dags/${enc(dagId)}/runs/${enc(run.runId)}`);
    } catch (e) {
      setError(e instanceof Error && "body" in e ? (e as { body: { message: string; fix?: string; code?: string } }).body : { message: String(e) });
    }
  };
  return (
    <main>
      <DagHeader dag={dag.data} reload={dag.reload} />
      <h2>Trigger a run</h2>
      <form
        className="trigger-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        {Object.keys(params).length === 0 ? <p className="muted">This DAG has no params.</p> : null}
        {Object.entries(params).map(([key, def]) => {
          const id = `param-${key}`;
          const isString = typeof def === "string";
          const shown = values[key] ?? (isString ? (def as string) : JSON.stringify(def));
          return (
            <div className="field" key={key}>
              <label htmlFor={id}>
                {key} <span className="muted small">({def === null ? "any" : Array.isArray(def) ? "array, JSON" : typeof def === "object" ? "object, JSON" : typeof def})</span>
              </label>
              {typeof def === "boolean" ? (
                <select id={id} value={shown} onChange={(e) => setValues({ ...values, [key]: e.target.value })}>
                  <option value="true">true</option>
                  <option value="false">false</option>
                </select>
              ) : (
                <input id={id} type={typeof def === "number" ? "number" : "text"} value={shown} onChange={(e) => setValues({ ...values, [key]: e.target.value })} />
              )}
            </div>
          );
        })}
        <div className="field">
          <label htmlFor="extra-conf">
            Extra conf <span className="muted small">(JSON object, optional; merged over the params)</span>
          </label>
          <textarea id="extra-conf" rows={3} value={extraConf} onChange={(e) => setExtraConf(e.target.value)} placeholder='{"key": "value"}' />
        </div>
        <div className="field">
          <label htmlFor="run-id">
            Run id <span className="muted small">(optional)</span>
          </label>
          <input id="run-id" type="text" value={runId} onChange={(e) => setRunId(e.target.value)} placeholder="manual__<now>" />
        </div>
        <ErrorBox error={error} title="Not triggered" />
        <button type="submit" className="primary">
          ▶ Trigger
        </button>
      </form>
    </main>
  );
}
