// The Batch routes page: routes with their queues and counts, charts, a route's jobs, one task instance.
import {
  type ChartsAnswer,
  type Freshness,
  getJson,
  HttpError,
  type JobRow,
  type JobsAnswer,
  type RouteRow,
  type RoutesAnswer,
  type TaskInstanceAnswer,
} from "./api";
import { drawCharts } from "./charts";
import { SKELETON, TASK_INSTANCE_SKELETON } from "./skeleton";
import { type Child, clock, el, link, replace, seconds } from "./dom";

const ACTIVE = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"];
const ENDED = ["SUCCEEDED", "FAILED"];
const PAGE = 25;

interface Filters {
  route: string;
  dag_id: string;
  task_id: string;
  status: string;
  offset: number;
}

export interface MountOptions {
  apiBase: string; // where the page's endpoints are: ".../batch-router/"
  taskInstance?: { dagId: string; runId: string; taskId: string; mapIndex: number }; // only its tries
}

/** Build the page inside ``root``; returns what stops its refreshes (React's effect clean-up). */
export function mount(root: HTMLElement, options: MountOptions): () => void {
  root.classList.add("batch-router-page");
  root.innerHTML = options.taskInstance ? TASK_INSTANCE_SKELETON : SKELETON;
  const filters: Filters = { route: "", dag_id: "", task_id: "", status: "", offset: 0 };
  let stopped = false;
  let refreshSeconds = 15;
  let timer: number | undefined;
  // What each table last showed: a refresh that brings the same rows leaves the DOM alone (no flicker,
  // and what a person is reading or clicking stays where it is).
  const shown = new Map<string, string>();

  function changed(key: string, value: unknown): boolean {
    const text = JSON.stringify(value);
    if (shown.get(key) === text) return false;
    shown.set(key, text);
    return true;
  }

  function byId(id: string): HTMLElement {
    return root.querySelector(`#${id}`) as HTMLElement;
  }

  function problem(error: unknown): Child {
    if (error instanceof HttpError) {
      if (error.status === 401) {
        return el("p", { class: "banner error", "data-testid": "login" }, "You are not logged in to Airflow: ", link(`${options.apiBase}../auth/login/`, "log in", { target: "_top" }), ".");
      }
      if (error.status === 403) {
        return el("p", { class: "banner error" }, `Your Airflow role does not allow this view (${error.detail}).`);
      }
      return el("p", { class: "banner error", "data-testid": "problem" }, error.detail);
    }
    return el("p", { class: "banner error", "data-testid": "problem" }, `The page could not reach the API server: ${String(error)}`);
  }

  function freshness(answer: Freshness): Child[] {
    const parts: Child[] = [
      el("span", { "data-testid": "refreshed" }, `AWS Batch read at ${clock(answer.refreshed_ms)}; ${answer.aws_calls_last_refresh} AWS calls in that refresh; every ${answer.refresh_seconds} s.`),
    ];
    if (answer.error) {
      parts.push(el("p", { class: "banner error", "data-testid": "aws-error" }, `AWS Batch could not be read (the figures below are from the last read that worked): ${answer.error}`));
    }
    if (answer.left_out.length) {
      parts.push(el("p", { class: "banner warn" }, `Not read in this refresh (the call budget ran out; read first next time): ${answer.left_out.join("; ")}`));
    }
    return parts;
  }

  function queueCell(row: RouteRow): HTMLElement {
    const state = row.queue_found === false ? "not found" : `${row.queue_state ?? "?"} / ${row.queue_status ?? "?"}`;
    return el(
      "td",
      {},
      el("div", { class: "mono" }, row.job_queue),
      el("div", { class: row.queue_state === "ENABLED" && row.queue_status === "VALID" ? "ok" : "bad" }, state),
      row.queue_status_reason ? el("div", { class: "small" }, row.queue_status_reason) : null,
    row.capacity_in_use.length
      ? el("div", { class: "small", "data-testid": "in-use" }, `in use: ${row.capacity_in_use.map((c) => `${c.quantity} ${c.unit}`).join(", ")}`)
      : null,
      row.blocked
        ? el(
            "div",
            { class: "blocked", "data-testid": "blocked" },
            el("strong", {}, `Blocked: ${row.blocked.code}`),
            el("div", { class: "small" }, row.blocked.message),
            el("div", { class: "small" }, `Fix: ${row.blocked.fix}`),
          )
        : null,
    );
  }

  function countCells(row: RouteRow): HTMLElement[] {
    return [...ACTIVE, ...ENDED].map((status) =>
      el(
        "td",
        { class: `count ${status.toLowerCase()}`, "data-count": status },
        el("a", { href: "#", "data-filter-route": row.name, "data-filter-status": status }, String(row.counts[status] ?? 0)),
      ),
    );
  }

  function routeRow(row: RouteRow): HTMLElement {
    return el(
      "tr",
      { "data-route": row.name },
      el(
        "td",
        {},
        el("a", { href: "#", "data-filter-route": row.name }, el("strong", {}, row.name)),
        row.default ? el("span", { class: "badge" }, "default") : null,
        row.airflow_queues.length ? el("div", { class: "small" }, `Airflow queues: ${row.airflow_queues.join(", ")}`) : null,
      ),
      el("td", { "data-testid": "compute" }, row.compute, el("div", { class: "small" }, `Spot: ${row.spot}`)),
      queueCell(row),
      el(
        "td",
        {},
        ...row.compute_environments.map((e) =>
          el("div", { class: e.state === "ENABLED" && e.status === "VALID" ? "ok" : "bad" }, `${e.name} (${e.type}) ${e.state}/${e.status}`),
        ),
      ),
      el("td", { class: "mono" }, row.job_definition),
      el("td", { class: "small" }, row.caps, el("div", { title: row.policy }, row.policy.length > 80 ? `${row.policy.slice(0, 77)}…` : row.policy)),
      ...countCells(row),
      el("td", { class: "small" }, `p50 ${seconds(row.wait.p50)}, p90 ${seconds(row.wait.p90)}`, el("div", {}, `${row.wait.jobs} started`)),
      el("td", { class: "small" }, row.unread ? `${row.unread} not read yet` : "", row.other_jobs_in_queue ? el("div", {}, `${row.other_jobs_in_queue} not batch-router's`) : null),
    );
  }

  async function loadRoutes(): Promise<void> {
    const target = byId("routes");
    try {
      const answer = await getJson<RoutesAnswer>(`${options.apiBase}ui/routes`);
      refreshSeconds = Math.max(5, answer.refresh_seconds);
      const file = answer.source.replace(/^the route file .*\//, "");
      replace(
        byId("source"),
        el("span", { title: answer.source }, `Route table: ${file === answer.source ? answer.source : file}. `),
        `Counts are of jobs created in the last ${Math.round(answer.window_seconds / 60)} min, and RUNNABLE / RUNNING jobs of any age.`,
      );
      replace(byId("freshness"), ...freshness(answer));
      const head = el(
        "tr",
        {},
        ...["Route", "Compute", "Job queue", "Compute environments", "Job definition", "Caps and policy"].map((h) => el("th", {}, h)),
        ...[...ACTIVE, ...ENDED].map((s) => el("th", { class: "count" }, s)),
        el("th", {}, "Wait before start"),
        el("th", {}, "Also in the queue"),
      );
      if (changed("routes", answer.routes)) {
        replace(target, el("table", { "data-testid": "routes" }, el("thead", {}, head), el("tbody", {}, ...answer.routes.map(routeRow))));
      }
      const select = byId("route-filter") as HTMLSelectElement;
      if (select.options.length <= 1) {
        for (const row of answer.routes) select.append(el("option", { value: row.name }, row.name));
      }
    } catch (error) {
      shown.delete("routes");
      replace(target, problem(error));
    }
  }

  async function loadCharts(): Promise<void> {
    try {
      drawCharts(byId("charts"), await getJson<ChartsAnswer>(`${options.apiBase}ui/charts`));
    } catch (error) {
      replace(byId("charts"), problem(error));
    }
  }

  function jobRow(job: JobRow): HTMLElement {
    const mapped = job.map_index >= 0 ? `[${job.map_index}]` : "";
    return el(
      "tr",
      { "data-job": job.job_id, "data-status": job.status },
      el(
        "td",
        {},
        link(job.task_instance_url, `${job.dag_id}.${job.task_id}${mapped}`, { target: "_top", "data-testid": "ti-link" }),
        el("div", { class: "small" }, `${job.run_id}, try ${job.try_number}`),
        el("a", { href: "#", class: "small", "data-tries": JSON.stringify([job.dag_id, job.run_id, job.task_id, job.map_index]) }, "all tries"),
      ),
      el("td", {}, job.route),
      el("td", { class: "mono" }, job.job_id),
      el("td", { class: `status ${job.status.toLowerCase()}` }, job.status),
      el("td", { class: `status ${(job.task_state ?? "").toLowerCase()}`, "data-testid": "task-state" }, job.task_state ?? "–"),
      el("td", { class: "reason", "data-testid": "reason" }, job.status_reason ?? ""),
      el("td", {}, job.exit_code === null ? "–" : String(job.exit_code)),
      el("td", {}, seconds(job.waited_seconds)),
      el("td", {}, seconds(job.ran_seconds)),
      el("td", {}, job.spot),
      el(
        "td",
        {},
        job.console_url ? link(job.console_url, "console", { target: "_blank", "data-testid": "console-link" }) : null,
        " ",
        job.log_url ? link(job.log_url, "log stream", { target: "_blank", "data-testid": "log-link", title: job.log_stream ?? "" }) : el("span", { class: "small" }, "no log (never started)"),
      ),
    );
  }

  async function loadJobs(): Promise<void> {
    const target = byId("jobs");
    try {
      const answer = await getJson<JobsAnswer>(`${options.apiBase}ui/jobs`, {
        route: filters.route,
        dag_id: filters.dag_id,
        task_id: filters.task_id,
        status: filters.status,
        limit: PAGE,
        offset: filters.offset,
      });
      if (!changed("jobs", [answer.jobs, answer.total_entries, answer.offset])) return;
      const head = el("tr", {}, ...["Task instance", "Route", "Batch job", "Job status", "Task state", "Status reason", "Exit", "Waited", "Ran", "Spot", "Links"].map((h) => el("th", {}, h)));
      const last = Math.min(answer.offset + answer.jobs.length, answer.total_entries);
      const pager = el(
        "div",
        { class: "pager" },
        el("button", { type: "button", id: "prev", ...(answer.offset === 0 ? { disabled: "" } : {}) }, "Previous"),
        el("span", { "data-testid": "job-count" }, ` ${answer.total_entries ? answer.offset + 1 : 0}–${last} of ${answer.total_entries} `),
        el("button", { type: "button", id: "next", ...(last >= answer.total_entries ? { disabled: "" } : {}) }, "Next"),
      );
      replace(target, el("table", { "data-testid": "jobs" }, el("thead", {}, head), el("tbody", {}, ...answer.jobs.map(jobRow))), pager);
      byId("prev").onclick = () => {
        filters.offset = Math.max(0, filters.offset - PAGE);
        void loadJobs();
      };
      byId("next").onclick = () => {
        filters.offset += PAGE;
        void loadJobs();
      };
    } catch (error) {
      shown.delete("jobs");
      replace(target, problem(error));
    }
  }

  async function loadTaskInstance(dagId: string, runId: string, taskId: string, mapIndex: number): Promise<void> {
    const target = byId("task-instance");
    replace(target, el("p", {}, "Loading…"));
    try {
      const answer = await getJson<TaskInstanceAnswer>(`${options.apiBase}ui/task-instance`, { dag_id: dagId, run_id: runId, task_id: taskId, map_index: mapIndex });
      const rows = answer.tries.map((t) =>
        el(
          "tr",
          { "data-try": String(t.try_number) },
          el("td", {}, String(t.try_number)),
          el("td", {}, t.state ?? "–"),
          el("td", {}, t.route ?? "–", el("div", { class: "small" }, t.why)),
          el("td", { class: "mono" }, t.job ? t.job.job_id : "no job found"),
          el("td", {}, t.job ? `${t.job.status}${t.job.exit_code === null ? "" : ` (exit ${t.job.exit_code})`}` : "", t.job?.status_reason ? el("div", { class: "small" }, t.job.status_reason) : null, t.job?.route_note ? el("div", { class: "small" }, t.job.route_note) : null),
          el("td", {}, t.job?.console_url ? link(t.job.console_url, "console", { target: "_blank" }) : null, " ", t.job?.log_url ? link(t.job.log_url, "log stream", { target: "_blank" }) : null),
          el("td", { class: "small" }, ...t.events.map((e) => el("div", {}, `${clock(e.when_ms)} ${e.event}: ${e.extra ?? ""}`))),
        ),
      );
      replace(
        target,
        el("h3", {}, `${answer.dag_id}.${answer.task_id}${answer.map_index >= 0 ? `[${answer.map_index}]` : ""} in ${answer.run_id}`),
        answer.error ? el("p", { class: "banner error" }, answer.error) : null,
        el(
          "table",
          { "data-testid": "tries" },
          el("thead", {}, el("tr", {}, ...["Try", "State", "Route and why", "Batch job", "End", "Links", "Executor's events"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...rows),
        ),
      );
    } catch (error) {
      replace(target, problem(error));
    }
  }

  function wireFilters(): void {
    const form = byId("job-filters") as HTMLFormElement;
    form.onsubmit = (event) => {
      event.preventDefault();
      const data = new FormData(form);
      filters.route = String(data.get("route") ?? "");
      filters.dag_id = String(data.get("dag_id") ?? "").trim();
      filters.task_id = String(data.get("task_id") ?? "").trim();
      filters.status = String(data.get("status") ?? "");
      filters.offset = 0;
      void loadJobs();
    };
    const tiForm = byId("ti-form") as HTMLFormElement;
    tiForm.onsubmit = (event) => {
      event.preventDefault();
      const data = new FormData(tiForm);
      void loadTaskInstance(String(data.get("dag_id")), String(data.get("run_id")), String(data.get("task_id")), Number(data.get("map_index") || -1));
    };
    root.addEventListener("click", (event) => {
      const target = (event.target as HTMLElement).closest("a");
      if (!target) return;
      const tries = target.getAttribute("data-tries");
      if (tries) {
        event.preventDefault();
        const [dag, run, task, map] = JSON.parse(tries) as [string, string, string, number];
        void loadTaskInstance(dag, run, task, map);
        byId("task-instance").scrollIntoView();
        return;
      }
      const route = target.getAttribute("data-filter-route");
      if (route !== null) {
        event.preventDefault();
        filters.route = route;
        filters.status = target.getAttribute("data-filter-status") ?? "";
        filters.offset = 0;
        (form.elements.namedItem("route") as HTMLSelectElement).value = route;
        (form.elements.namedItem("status") as HTMLSelectElement).value = filters.status;
        void loadJobs();
        byId("jobs").scrollIntoView();
      }
    });
  }

  async function refresh(): Promise<void> {
    await Promise.all([loadRoutes(), loadCharts(), loadJobs()]);
    byId("page").setAttribute("data-refreshes", String(Number(byId("page").getAttribute("data-refreshes") ?? "0") + 1));
    window.clearTimeout(timer);
    if (!stopped) timer = window.setTimeout(() => void refresh(), refreshSeconds * 1000);
  }

  function openFromQuery(): void {
    const params = new URLSearchParams(window.location.search);
    const dag = params.get("dag_id");
    const run = params.get("run_id");
    const task = params.get("task_id");
    if (dag && run && task) void loadTaskInstance(dag, run, task, Number(params.get("map_index") ?? -1));
  }

  if (options.taskInstance) {
    const ti = options.taskInstance;
    void loadTaskInstance(ti.dagId, ti.runId, ti.taskId, ti.mapIndex);
    return () => undefined;
  }
  wireFilters();
  openFromQuery();
  void refresh();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
