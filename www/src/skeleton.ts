// The page's fixed parts (no data: every value is added later as text, see dom.ts).

export const SKELETON = `
<div id="page" data-refreshes="0">
  <header>
    <h1>Batch routes</h1>
    <p id="source" class="small"></p>
    <div id="freshness" class="small"></div>
  </header>
  <section>
    <h2>Routes</h2>
    <div id="routes"><p>Loading…</p></div>
  </section>
  <section>
    <h2>Jobs per status, and waits</h2>
    <div id="charts" class="charts"></div>
  </section>
  <section>
    <h2>Jobs</h2>
    <form id="job-filters">
      <label>Route <select name="route" id="route-filter"><option value="">all</option></select></label>
      <label>DAG <input name="dag_id" placeholder="dag_id" /></label>
      <label>Task <input name="task_id" placeholder="task_id" /></label>
      <label>Status
        <select name="status">
          <option value="">any</option>
          <option>SUBMITTED</option><option>PENDING</option><option>RUNNABLE</option><option>STARTING</option>
          <option>RUNNING</option><option>SUCCEEDED</option><option>FAILED</option>
        </select>
      </label>
      <button type="submit">Show</button>
    </form>
    <div id="jobs"><p>Loading…</p></div>
  </section>
  <section>
    <h2>One task instance</h2>
    <form id="ti-form">
      <label>DAG <input name="dag_id" required /></label>
      <label>Run <input name="run_id" required /></label>
      <label>Task <input name="task_id" required /></label>
      <label>Map index <input name="map_index" value="-1" size="4" /></label>
      <button type="submit">Show tries</button>
    </form>
    <div id="task-instance"></div>
  </section>
</div>`;

// On Airflow's task instance page (a tab): only this task instance's tries.
export const TASK_INSTANCE_SKELETON = `
<div id="page" data-refreshes="0">
  <h2>AWS Batch: every try, its route and its job</h2>
  <div id="task-instance"><p>Loading…</p></div>
</div>`;
