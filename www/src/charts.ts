// The page's charts, drawn with Chart.js: per route, jobs waiting, running, succeeded and failed over
// the window; and per route, how long jobs waited before they started.
import { BarController, BarElement, CategoryScale, Chart, type ChartConfiguration, Legend, LinearScale, Tooltip } from "chart.js";

import type { ChartsAnswer } from "./api";
import { el } from "./dom";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

type BarConfig = ChartConfiguration<"bar", number[], string>;

const COLORS: Record<string, string> = {
  waiting: "#d69e2e",
  running: "#3182ce",
  succeeded: "#38a169",
  failed: "#e53e3e",
  p50: "#805ad5",
  p90: "#d53f8c",
};

const drawn = new Map<string, Chart<"bar", number[], string>>();

function minute(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

function canvasFor(container: HTMLElement, key: string, title: string): HTMLCanvasElement {
  let box = container.querySelector<HTMLElement>(`[data-chart="${CSS.escape(key)}"]`);
  if (!box) {
    box = el("figure", { class: "chart", "data-chart": key }, el("figcaption", {}, title), el("canvas", {}));
    container.append(box);
  }
  return box.querySelector("canvas") as HTMLCanvasElement;
}

function upsert(key: string, canvas: HTMLCanvasElement, config: BarConfig): void {
  const existing = drawn.get(key);
  if (existing) {
    existing.data = config.data;
    existing.update("none");
    return;
  }
  drawn.set(key, new Chart(canvas, config));
}

export function drawCharts(container: HTMLElement, answer: ChartsAnswer): void {
  const labels = answer.times_ms.map(minute);
  for (const [route, series] of Object.entries(answer.routes)) {
    const canvas = canvasFor(container, `route:${route}`, `${route}: jobs per status (last ${Math.round(answer.window_seconds / 60)} min)`);
    upsert(`route:${route}`, canvas, {
      type: "bar",
      data: {
        labels,
        datasets: ["waiting", "running", "succeeded", "failed"].map((name) => ({
          label: name,
          data: series[name] ?? [],
          backgroundColor: COLORS[name],
          stack: "jobs",
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }
  const routes = Object.keys(answer.waits);
  const canvas = canvasFor(container, "waits", "Time from submit to start per route (p50, p90; seconds)");
  upsert("waits", canvas, {
    type: "bar",
    data: {
      labels: routes,
      datasets: (["p50", "p90"] as const).map((name) => ({
        label: name,
        data: routes.map((r) => answer.waits[r]?.[name] ?? 0),
        backgroundColor: COLORS[name],
      })),
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
  });
}
