import { useState } from "react";
import { api, enc, usePoll, type EnvironmentDetail, type EnvironmentSummary } from "../api.ts";
import { ErrorBox, Link, Loading, formatBytes, formatTime, navigate } from "../ui.tsx";

export function EnvironmentsPage() {
  const { data, error } = usePoll<EnvironmentSummary[]>("/api/environments", 5000);
  return (
    <main>
      <h1>Environments</h1>
      <ErrorBox error={error} />
      {!data ? (
        <Loading what="environments" />
      ) : data.length === 0 ? (
        <p className="muted">No environment built yet: they are built the first time a task needs one.</p>
      ) : (
        <table className="env-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Python</th>
              <th scope="col">Packages</th>
              <th scope="col">Size</th>
              <th scope="col">Last used</th>
              <th scope="col">Used by</th>
            </tr>
          </thead>
          <tbody>
            {data.map((e) => (
              <tr key={e.key} data-env-key={e.key}>
                <td>
                  <Link to={`/environments/${enc(e.key)}`}>
                    <code>{e.key.slice(0, 12)}</code>
                  </Link>
                </td>
                <td>
                  {e.implementation} {e.python}
                </td>
                <td>{e.packages.length > 0 ? e.packages.join(", ") : <span className="muted">none requested ({e.packageCount} installed)</span>}</td>
                <td>{formatBytes(e.sizeBytes)}</td>
                <td>{formatTime(e.lastUsedAt)}</td>
                <td>{e.usedBy.length > 0 ? e.usedBy.join(", ") : <span className="muted">no recent task</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

export function EnvironmentPage({ envKey }: { envKey: string }) {
  const { data, error } = usePoll<EnvironmentDetail>(`/api/environments/${enc(envKey)}`, 0);
  const [removeError, setRemoveError] = useState<{ message: string; fix?: string } | null>(null);
  const [rebuilding, setRebuilding] = useState<string | null>(null);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading what="the environment" />;
  const remove = async (): Promise<void> => {
    if (!window.confirm(`Remove environment ${data.key.slice(0, 12)}? The next task that needs it builds it again.`)) return;
    try {
      await api(`/api/environments/${enc(data.key)}`, { method: "DELETE" });
      navigate("/environments");
    } catch (e) {
      setRemoveError(e instanceof Error && "body" in e ? (e as { body: { message: string; fix?: string } }).body : { message: String(e) });
    }
  };
  const rebuild = async (): Promise<void> => {
    setRebuilding("rebuilding…");
    setRemoveError(null);
    try {
      const built = await api<{ key: string }>(`/api/environments/${enc(data.key)}/rebuild`, { method: "POST", body: {} });
      setRebuilding(built.key === data.key ? "rebuilt: the same packages resolved again" : `rebuilt as ${built.key.slice(0, 12)}`);
    } catch (e) {
      setRebuilding(null);
      setRemoveError(e instanceof Error && "body" in e ? (e as { body: { message: string; fix?: string } }).body : { message: String(e) });
    }
  };
  return (
    <main>
      <header className="page-header">
        <div>
          <p className="breadcrumbs">
            <Link to="/environments">Environments</Link> /
          </p>
          <h1>
            Environment <code>{data.key.slice(0, 12)}</code>
          </h1>
          <p className="muted small">
            Python {data.python} · {data.installer.name} {data.installer.version} · {formatBytes(data.sizeBytes)} · created {formatTime(data.createdAt)} · last used {formatTime(data.lastUsedAt)}
            {data.systemSitePackages ? " · sees system site-packages" : ""}
          </p>
          <p className="small">
            <code>{data.path}</code>
          </p>
        </div>
        <div className="actions">
          <button type="button" onClick={() => void rebuild()} disabled={rebuilding === "rebuilding…"}>
            ↻ Rebuild
          </button>
          <button type="button" className="danger" onClick={() => void remove()}>
            Remove
          </button>
        </div>
      </header>
      {rebuilding ? (
        <p className="notice" role="status">
          {rebuilding}
        </p>
      ) : null}
      <ErrorBox error={removeError} title="Not done" />
      <section aria-label="Lock">
        <h2>Lock ({data.lock.length} packages)</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Package</th>
              <th scope="col">Version</th>
              <th scope="col">Requested</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {data.lock.map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.version}</td>
                <td>{p.requested ? "yes" : "dependency"}</td>
                <td className="small">{p.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-label="Uses">
        <h2>Used by (recent tries)</h2>
        {data.uses.length === 0 ? <p className="muted">No recent try used it.</p> : null}
        <ul>
          {data.uses.map((u) => (
            <li key={`${u.dagId}/${u.runId}/${u.taskId}/${u.tryNumber}`}>
              <Link to={`/dags/${enc(u.dagId)}/runs/${enc(u.runId)}/tasks/${enc(u.taskId)}`}>
                {u.dagId}.{u.taskId}
              </Link>{" "}
              run {u.runId}, try {u.tryNumber}, {formatTime(u.at)} — {u.cacheHit === true ? "cache hit" : u.cacheHit === false ? "built (cache miss)" : "–"}
            </li>
          ))}
        </ul>
      </section>
      <details>
        <summary>Build log</summary>
        <pre className="log">{data.buildLog || "(empty)"}</pre>
      </details>
    </main>
  );
}
