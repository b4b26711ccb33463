// Shared by both views: connection to the host (ext-apps App), theme, safe-area insets, locale formatting, and a
// DOM helper that only ever sets text (never HTML), so third-party text such as a debtor's message stays inert.
import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps";

export const state = { locale: undefined };

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function money(value) {
  return new Intl.NumberFormat(state.locale, { style: "currency", currency: "EUR" }).format(Number(value));
}

export function percent(value) {
  return new Intl.NumberFormat(state.locale, { style: "percent", minimumFractionDigits: 2 }).format(
    Number(value) / 100,
  );
}

export function count(value) {
  return new Intl.NumberFormat(state.locale).format(value);
}

export function when(value) {
  if (!value) return "";
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(dateOnly ? value + "T00:00:00Z" : value);
  const options = dateOnly ? { dateStyle: "medium", timeZone: "UTC" } : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(state.locale, options).format(d);
}

export const STATUS_LABELS = {
  pending: "Pending",
  in_process: "In recovery",
  payment_received: "Payment received",
  recovered: "Recovered",
  disputed: "Disputed",
  evidence_requested: "Evidence requested",
  cancelled: "Cancelled",
};

function applyContext(ctx) {
  if (!ctx) return;
  if (ctx.theme) applyDocumentTheme(ctx.theme);
  if (ctx.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
  if (ctx.styles?.css?.fonts) applyHostFonts(ctx.styles.css.fonts);
  if (ctx.locale) state.locale = ctx.locale;
  const inset = ctx.safeAreaInsets;
  if (inset) {
    const root = document.documentElement.style;
    for (const side of ["top", "right", "bottom", "left"]) root.setProperty(`--safe-${side}`, `${inset[side] ?? 0}px`);
  }
}

// Connect to the host; `render(structuredContent, result)` runs for every tool result, and again when the locale
// changes. Returns the App, whose callServerTool / sendMessage go through the host (and its approval).
export async function startView(name, render) {
  const app = new App({ name, version: "1.0.0" }, {});
  let last = null;
  const show = () => {
    if (!last) return;
    const root = document.getElementById("app");
    root.replaceChildren();
    if (last.isError) {
      const text = (last.content || []).map((c) => c.text || "").join("\n");
      root.append(el("p", { class: "error", role: "alert" }, text || "The tool failed."));
    } else {
      render(last.structuredContent || {}, app, root);
    }
    document.body.dataset.rendered = "true";
  };
  app.ontoolresult = (result) => {
    last = result;
    show();
  };
  app.onhostcontextchanged = (ctx) => {
    const locale = state.locale;
    applyContext(ctx);
    if (state.locale !== locale) show();
  };
  await app.connect();
  applyContext(app.getHostContext());
  document.body.dataset.connected = "true";
  return app;
}

// A write from the view: the same tool the model would call, through the host. The server decides whether a
// person must approve (it always does for these tools); the view shows what came back and never bypasses it.
export async function callTool(app, name, args, outlet) {
  outlet.replaceChildren(el("p", { class: "muted" }, "Asking the server…"));
  let result;
  try {
    result = await app.callServerTool({ name, arguments: args });
  } catch (err) {
    outlet.replaceChildren(el("p", { class: "error", role: "alert" }, String(err?.message || err)));
    return null;
  }
  const sc = result.structuredContent || {};
  const lines = [];
  const link = !result.isError && sc.status === "approval_pending" ? approvalLink(app, sc.approval_url) : null;
  if (result.isError) lines.push((result.content || []).map((c) => c.text || "").join("\n"));
  else if (!sc.status || sc.status === "done") {
    lines.push(sc.message || "Done.");
    if (sc.next_step) lines.push(sc.next_step);
  } else if (link) {
    lines.push("Nothing was changed: this needs your approval first.");
    lines.push("Open the approval page: it shows exactly this request; sign in there, then approve or decline.");
  } else {
    // Not done: the server wants a person's approval (or it was declined). Show what would happen, in the
    // server's words; the approval itself happens outside the view (the host, the conversation, an approval page).
    lines.push("Nothing was changed: this needs your approval first.");
    lines.push(sc.confirmation?.summary || sc.message);
  }
  outlet.replaceChildren(
    el("div", { class: result.isError ? "notice error" : "notice", role: "status", "data-status": sc.status || "" },
      lines.filter(Boolean).map((line) => el("p", {}, line)), link),
  );
  return result;
}

// approval_pending over HTTP with sign-in carries the approval page's address (approval_url): a button asks the
// host to open it for the person (ui/open-link; a view cannot navigate itself). Only http(s) addresses; when the
// host refuses, the address is shown as text to copy.
function approvalLink(app, url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
  const status = el("p", { class: "muted", "aria-live": "polite" });
  const button = el("button", {
    type: "button", class: "approve-link", "data-action": "open-approval",
    onclick: async () => {
      let refused = false;
      try {
        refused = Boolean((await app.openLink({ url: parsed.href }))?.isError);
      } catch {
        refused = true;
      }
      status.replaceChildren(refused
        ? `Your app did not open the page; open this address yourself: ${parsed.href}`
        : "The approval page is open in your browser.");
      status.dataset.opened = String(!refused);
    },
  }, "Open the approval page");
  return el("div", { class: "approval-link" }, el("div", { class: "buttons" }, button), status);
}
