// The page on its own, at the plugin app's root (/batch-router/): the same page as in Airflow's UI.
import { mount } from "./page";
import { addStyle } from "./style";

addStyle();
mount(document.getElementById("root") as HTMLElement, { apiBase: new URL(".", window.location.href).pathname });
