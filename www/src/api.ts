// The page's calls to its own endpoints (batch_router/ui/api.py). The page is served from the same
// origin as Airflow's UI, so the user's Airflow session cookie authenticates every call.

export interface Freshness {
  refreshed_ms: number;
  window_seconds: number;
  refresh_seconds: number;
  aws_calls_last_refresh: number;
  left_out: string[];
  error: string | null;
}

export interface ComputeEnvironment {
  name: string;
  type: string;
  state: string;
  status: string;
  spot: boolean;
}

export interface Wait {
  jobs: number;
  p50: number | null;
  p90: number | null;
  longest: number | null;
}

export interface RouteRow {
  name: string;
  default: boolean;
  compute: string;
  job_queue: string;
  job_definition: string;
  queue_found: boolean | null;
  queue_state: string | null;
  queue_status: string | null;
  queue_status_reason: string | null;
  blocked: { code: string; message: string; fix: string } | null;
  compute_environments: ComputeEnvironment[];
  spot: string;
  capacity_in_use: { unit: string; quantity: number }[];
  caps: string;
  policy: string;
  airflow_queues: string[];
  counts: Record<string, number>;
  other_jobs_in_queue: number;
  unread: number;
  wait: Wait;
}

export interface RoutesAnswer extends Freshness {
  source: string;
  routes: RouteRow[];
}

export interface JobRow {
  job_id: string;
  job_name: string;
  route: string;
  status: string;
  status_reason: string | null;
  exit_code: number | null;
  created_ms: number | null;
  waited_seconds: number | null;
  ran_seconds: number | null;
  spot: string;
  try_id: string | null;
  task_state: string | null;
  dag_id: string;
  task_id: string;
  run_id: string;
  map_index: number;
  try_number: number;
  task_instance_url: string;
  console_url: string | null;
  log_url: string | null;
  log_stream: string | null;
}

export interface JobsAnswer extends Freshness {
  jobs: JobRow[];
  total_entries: number;
  limit: number;
  offset: number;
}

export interface ChartsAnswer extends Freshness {
  times_ms: number[];
  step_seconds: number;
  routes: Record<string, Record<string, number[]>>;
  waits: Record<string, Wait>;
}

export interface TryJob {
  job_id: string;
  job_name: string;
  status: string;
  status_reason: string | null;
  exit_code: number | null;
  route: string | null;
  route_note: string | null;
  console_url: string | null;
  log_url: string | null;
  log_stream: string | null;
}

export interface TryAnswer {
  try_number: number;
  state: string | null;
  executor: string | null;
  queue: string | null;
  route: string | null;
  why: string;
  job: TryJob | null;
  events: { when_ms: number | null; event: string; extra: string | null }[];
  start_ms: number | null;
  end_ms: number | null;
}

export interface TaskInstanceAnswer {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  tries: TryAnswer[];
  error: string | null;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

export async function getJson<T>(path: string, params: Record<string, string | number | undefined> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.set(key, String(value));
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = (await response.json()) as { detail?: unknown };
      if (body.detail !== undefined) detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch {
      // not JSON: keep the status text
    }
    throw new HttpError(response.status, detail);
  }
  return (await response.json()) as T;
}
