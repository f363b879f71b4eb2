// The page as an Airflow UI plugin (a React app): Airflow imports this module and renders the
// component it leaves on globalThis, with its own React (globalThis.React), so no React is bundled
// here. On a task instance's tab Airflow passes dagId, runId, taskId and mapIndex.
import { mount } from "./page";
import { addStyle } from "./style";

interface Props {
  dagId?: string;
  runId?: string;
  taskId?: string;
  mapIndex?: string | number;
}

interface HostReact {
  createElement: (type: string, props: Record<string, unknown>) => unknown;
  useEffect: (effect: () => (() => void) | void, deps: unknown[]) => void;
  useRef: <T>(value: T) => { current: T };
}

// The names the plugin's React apps carry (batch_router/ui/plugin.py): Airflow looks the component up
// by its app's name, and imports the module only once for both.
const NAMES = ["Batch routes", "Batch tries"];

function apiBase(): string {
  return new URL("batch-router/", document.baseURI).pathname;
}

function BatchRoutes(props: Props): unknown {
  const React = (globalThis as unknown as { React: HostReact }).React;
  const ref = React.useRef<HTMLDivElement | null>(null);
  const { dagId, runId, taskId } = props;
  const mapIndex = props.mapIndex === undefined ? -1 : Number(props.mapIndex);
  React.useEffect(() => {
    if (!ref.current) return;
    addStyle();
    const taskInstance = dagId && runId && taskId ? { dagId, runId, taskId, mapIndex } : undefined;
    return mount(ref.current, { apiBase: apiBase(), taskInstance });
  }, [dagId, runId, taskId, mapIndex]);
  return React.createElement("div", { ref });
}

const host = globalThis as unknown as Record<string, unknown>;
host.AirflowPlugin = BatchRoutes;
for (const name of NAMES) host[name] = BatchRoutes;
