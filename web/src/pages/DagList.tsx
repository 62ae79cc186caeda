import { api, enc, usePoll, type DagSummary } from "../api.ts";
import { ErrorBox, Link, Loading, StateBadge, formatTime } from "../ui.tsx";

export function DagListPage() {
  const { data, error, reload } = usePoll<{ dags: DagSummary[]; importErrors: { file: string; code: string; message: string }[] }>("/api/dags", 2000);
  const togglePause = async (dag: DagSummary): Promise<void> => {
    await api(`/api/dags/${enc(dag.dagId)}`, { method: "PATCH", body: { paused: !dag.paused } });
    reload();
  };
  return (
    <main>
      <h1>DAGs</h1>
      <ErrorBox error={error} />
      {!data ? (
        <Loading what="DAGs" />
      ) : (
        <>
          {data.importErrors.length > 0 ? (
            <section className="import-errors" aria-label="DAG files that failed to load">
              <h2>
                <span aria-hidden="true">⚠ </span>
                {data.importErrors.length} DAG file{data.importErrors.length === 1 ? "" : "s"} failed to load
              </h2>
              {data.importErrors.map((e) => (
                <ErrorBox key={e.file} title={e.file} error={{ code: e.code, message: e.message }} />
              ))}
            </section>
          ) : null}
          <table className="dag-table">
            <thead>
              <tr>
                <th scope="col">Active</th>
                <th scope="col">DAG</th>
                <th scope="col">Schedule</th>
                <th scope="col">Recent runs</th>
                <th scope="col">Next run</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {data.dags.map((dag) => (
                <tr key={dag.dagId} data-dag-id={dag.dagId}>
                  <td>
                    <label className="switch">
                      <input type="checkbox" role="switch" checked={!dag.paused} onChange={() => void togglePause(dag)} aria-label={`${dag.paused ? "Unpause" : "Pause"} ${dag.dagId}`} />
                      <span>{dag.paused ? "paused" : "active"}</span>
                    </label>
                  </td>
                  <td>
                    <Link to={`/dags/${enc(dag.dagId)}`} className="dag-link">
                      {dag.dagId}
                    </Link>
                    {dag.description ? <div className="muted small">{dag.description}</div> : null}
                    {dag.tags.map((t) => (
                      <span className="tag" key={t}>
                        {t}
                      </span>
                    ))}
                    {dag.loadError ? (
                      <div className="load-error" role="note">
                        <span aria-hidden="true">⚠ </span>the file fails to load; showing its last good version: <span className="message-inline">{dag.loadError.message}</span>
                      </div>
                    ) : null}
                  </td>
                  <td>
                    <code>{dag.schedule ?? "manual"}</code>
                  </td>
                  <td>
                    <span className="recent-runs">
                      {dag.recentRuns.length === 0 ? <span className="muted">no runs yet</span> : null}
                      {dag.recentRuns
                        .slice()
                        .reverse()
                        .map((r) => (
                          <Link key={r.runId} to={`/dags/${enc(dag.dagId)}/runs/${enc(r.runId)}`} label={`run ${r.runId}: ${r.state}`}>
                            <StateBadge state={r.state} compact />
                          </Link>
                        ))}
                    </span>
                  </td>
                  <td>{dag.nextRunAt ? formatTime(dag.nextRunAt) : <span className="muted">–</span>}</td>
                  <td>
                    <Link to={`/dags/${enc(dag.dagId)}/trigger`} className="button" label={`Trigger ${dag.dagId}`}>
                      ▶ Trigger
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.dags.length === 0 ? <p className="muted">No DAGs found in the DAG folder.</p> : null}
        </>
      )}
    </main>
  );
}
