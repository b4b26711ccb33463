import { STATUS_LABELS, callTool, count, el, money, percent, startView, when } from "./common.js";

const CANCELLABLE = new Set(["pending", "in_process", "disputed", "evidence_requested"]);
const CANCEL_REASONS = {
  paid_directly: "The debtor paid me directly",
  disputed_valid: "The dispute is valid",
  business_decision: "Business decision",
  incorrect_submission: "Submitted by mistake",
};

function timeline(entries) {
  return el("ol", { class: "timeline" }, entries.map((e) =>
    el("li", { class: e.planned ? "planned" : "", "data-kind": e.kind },
      el("time", {}, when(e.at)), el("span", {}, e.label))));
}

function dispute(d) {
  const message = d.debtor_message;
  return el("section", { class: "dispute", "data-section": "dispute" },
    el("h2", {}, "Dispute"),
    el("p", {}, el("strong", {}, "Reason: "), d.reason.replaceAll("_", " ")),
    d.evidence_requested?.length
      ? el("p", {}, el("strong", {}, "Evidence requested: "), d.evidence_requested.map((x) => x.replaceAll("_", " ")).join(", "))
      : null,
    message
      ? el("blockquote", { class: "untrusted", "data-untrusted": message.source },
        el("p", { class: "untrusted-label" }, `Written by the ${message.source}: shown as data, not instructions`),
        // textContent only: markup in the debtor's text is displayed, never parsed.
        el("p", { class: "untrusted-text" }, message.text))
      : null);
}

function actions(data, app) {
  const outlet = el("div", { class: "outlet", "aria-live": "polite" });
  const buttons = [];
  const id = data.id;
  if (data.dispute && (data.status === "disputed" || data.status === "evidence_requested")) {
    buttons.push(el("button", {
      type: "button", "data-action": "answer-dispute",
      onclick: () => app.sendMessage({
        role: "user",
        content: [{
          type: "text",
          text: `Help me answer the dispute on receivable ${id}: gather the requested documents with me, then submit_evidence.`,
        }],
      }).then(() => outlet.replaceChildren(el("p", { class: "muted" }, "Asked the assistant to prepare the answer."))),
    }, "Answer the dispute"));
  }
  if (data.partial_payment && data.status === "in_process") {
    buttons.push(el("button", {
      type: "button", "data-action": "continue-recovery",
      onclick: () => callTool(app, "handle_partial_payment", { receivable_id: id, action: "continue_recovery" }, outlet),
    }, `Recover the remaining ${money(data.partial_payment.remaining_amount)}`));
    buttons.push(el("button", {
      type: "button", "data-action": "mark-complete",
      onclick: () => callTool(app, "handle_partial_payment", { receivable_id: id, action: "mark_complete" }, outlet),
    }, "Accept as complete"));
  }
  if (CANCELLABLE.has(data.status)) {
    const reason = el("select", { "aria-label": "Why cancel", "data-field": "reason" },
      Object.entries(CANCEL_REASONS).map(([value, label]) => el("option", { value }, label)));
    buttons.push(el("span", { class: "cancel" }, reason, el("button", {
      type: "button", class: "danger", "data-action": "cancel",
      onclick: () => callTool(app, "cancel_receivable", { receivable_id: id, reason: reason.value }, outlet),
    }, "Cancel the recovery")));
  }
  if (!buttons.length) return null;
  return el("section", { class: "actions" }, el("h2", {}, "Actions"), el("div", { class: "buttons" }, buttons),
    el("p", { class: "muted" }, "Every change is confirmed by you before anything is sent."), outlet);
}

function untrustedText(value) {
  return value && typeof value === "object" ? String(value.text ?? "") : String(value ?? "");
}

function render(data, app, root) {
  const progress = data.recovery_progress || {};
  const timelineBox = el("div", { class: "timeline-box" }, el("p", { class: "muted" }, "Loading the timeline…"));
  const commission = data.commission;
  const sections = [
    el("header", {},
      // The debtor's name comes from the invoice, so it arrives fenced as untrusted text: show its text as data.
      el("h1", { "data-untrusted": data.debtor_name?.source || "" }, untrustedText(data.debtor_name)),
      el("p", {},
        el("span", { class: `badge status-${data.status}`, "data-status": data.status }, STATUS_LABELS[data.status] || data.status),
        " ", el("span", { class: "muted" }, `${data.id} · ${data.invoice_numbers.join(", ")}`))),
    el("section", { class: "figures" },
      el("div", { class: "figure", "data-figure": "amount", "data-value": data.amount },
        el("span", { class: "label" }, "Amount"), el("span", { class: "value" }, money(data.amount))),
      commission
        ? el("div", { class: "figure", "data-figure": "commission", "data-value": commission.amount, "data-rate": commission.rate_percentage },
          el("span", { class: "label" }, `Commission ${percent(commission.rate_percentage)}`),
          el("span", { class: "value" }, money(commission.amount)))
        : null,
      commission
        ? el("div", { class: "figure", "data-figure": "net", "data-value": (Number(data.amount) - Number(commission.amount)).toFixed(2) },
          el("span", { class: "label" }, "You receive"),
          el("span", { class: "value" }, money(Number(data.amount) - Number(commission.amount))))
        : null,
      el("div", { class: "figure", "data-figure": "contacts", "data-emails": progress.emails_sent, "data-calls": progress.calls_made },
        el("span", { class: "label" }, "Emails · calls"),
        el("span", { class: "value" }, `${count(progress.emails_sent || 0)} · ${count(progress.calls_made || 0)}`))),
    data.partial_payment
      ? el("section", { "data-section": "partial" }, el("h2", {}, "Partial payment"),
        el("p", {}, `Paid ${money(data.partial_payment.paid_amount)} of ${money(data.partial_payment.original_amount)}; `
          + `${money(data.partial_payment.remaining_amount)} left.`))
      : null,
    data.dispute ? dispute(data.dispute) : null,
    el("section", {}, el("h2", {}, "Timeline"), timelineBox),
    actions(data, app),
  ];
  root.append(...sections.filter(Boolean));
  app.callServerTool({ name: "receivable_timeline", arguments: { receivable_id: data.id } }).then((result) => {
    const entries = result.structuredContent?.entries;
    timelineBox.replaceChildren(entries ? timeline(entries) : el("p", { class: "muted" }, "No timeline available."));
    timelineBox.dataset.loaded = "true";
  }, () => timelineBox.replaceChildren(el("p", { class: "muted" }, "No timeline available.")));
}

startView("Cleavr receivable", render);
