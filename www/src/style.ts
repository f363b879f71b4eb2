// The page's style, scoped to its root so it changes nothing of Airflow's UI around it.
import css from "./page.css";

export function addStyle(): void {
  if (document.getElementById("batch-router-style")) return;
  const style = document.createElement("style");
  style.id = "batch-router-style";
  style.textContent = css;
  document.head.append(style);
}
