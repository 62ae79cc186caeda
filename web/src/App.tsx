import { DagListPage } from "./pages/DagList.tsx";
import { DagPage, TriggerPage } from "./pages/Dag.tsx";
import { EnvironmentPage, EnvironmentsPage } from "./pages/Environments.tsx";
import { RunPage, TaskPage } from "./pages/Run.tsx";
import { Link, usePath } from "./ui.tsx";

const dec = decodeURIComponent;

function route(path: string) {
  let m: RegExpExecArray | null;
  if ((m = /^\/dags\/([^/]+)\/runs\/([^/]+)\/tasks\/([^/]+)(?:\/(\d+))?\/?$/.exec(path))) {
    return <TaskPage dagId={dec(m[1]!)} runId={dec(m[2]!)} taskId={dec(m[3]!)} mapIndex={m[4] === undefined ? -1 : Number(m[4])} />;
  }
  if ((m = /^\/dags\/([^/]+)\/runs\/([^/]+)\/?$/.exec(path))) return <RunPage dagId={dec(m[1]!)} runId={dec(m[2]!)} />;
  if ((m = /^\/dags\/([^/]+)\/trigger\/?$/.exec(path))) return <TriggerPage dagId={dec(m[1]!)} />;
  if ((m = /^\/dags\/([^/]+)\/?$/.exec(path))) return <DagPage dagId={dec(m[1]!)} />;
  if ((m = /^\/environments\/([^/]+)\/?$/.exec(path))) return <EnvironmentPage envKey={dec(m[1]!)} />;
  if (/^\/environments\/?$/.test(path)) return <EnvironmentsPage />;
  if (path === "/") return <DagListPage />;
  return (
    <main>
      <h1>Not found</h1>
      <p>
        Nothing at <code>{path}</code>. <Link to="/">Back to the DAGs</Link>
      </p>
    </main>
  );
}

export function App() {
  const path = usePath();
  return (
    <>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <nav className="topbar" aria-label="Main">
        <Link to="/" className="brand">
          venvflow
        </Link>
        <Link to="/" className={path === "/" || path.startsWith("/dags") ? "active" : ""}>
          DAGs
        </Link>
        <Link to="/environments" className={path.startsWith("/environments") ? "active" : ""}>
          Environments
        </Link>
      </nav>
      <div id="content" key={path}>
        {route(path)}
      </div>
    </>
  );
}
