import { STATUS_LABELS, callTool, count, el, money, percent, startView } from "./common.js";

function figure(label, value, key) {
  return el("div", { class: "figure", "data-figure": key, "data-value": value },
    el("span", { class: "label" }, label), el("span", { class: "value" }, money(value)));
}

function chart(buckets) {
  const bars = buckets.map((b) =>
    el("div", { class: "bucket", "data-bucket": b.label, "data-amount": b.amount, "data-share": b.share },
      el("div", { class: "bar-area" },
        el("div", { class: "bar", style: { height: `${Number(b.share) * 100}%` }, title: money(b.amount) })),
      el("span", { class: "bucket-amount" }, money(b.amount)),
      el("span", { class: "bucket-label" }, b.label),
      el("span", { class: "bucket-rate" }, percent(b.rate_percentage))));
  return el("figure", { class: "chart" },
    el("figcaption", {}, "Outstanding by invoice age (commission tiers)"),
    el("div", { class: "bars", role: "img", "aria-label": "Outstanding money by invoice age" }, bars));
}

function needsYou(data, app, outlet) {
  const items = [];
  for (const d of data.disputes_awaiting_evidence || []) {
    items.push(el("li", { "data-need": "dispute", "data-receivable": d.receivable_id },
      el("span", { class: "need-kind" }, "Dispute"),
      el("span", {}, `${d.debtor_name} · ${money(d.amount)} · ${STATUS_LABELS[d.status] || d.status}`),
      el("button", { type: "button", onclick: () => openReceivable(app, d.receivable_id, outlet) }, "Open")));
  }
  for (const p of data.partial_payments_awaiting_decision || []) {
    items.push(el("li", { "data-need": "partial", "data-receivable": p.receivable_id },
      el("span", { class: "need-kind" }, "Partial payment"),
      el("span", {}, `${p.debtor_name} paid ${money(p.paid_amount)}, ${money(p.remaining_amount)} left`),
      el("button", { type: "button", onclick: () => openReceivable(app, p.receivable_id, outlet) }, "Decide")));
  }
  for (const c of data.creditors_not_onboarded || []) {
    items.push(el("li", { "data-need": "onboarding", "data-user": c.user_id },
      el("span", { class: "need-kind" }, "Onboarding"),
      el("span", {}, `Creditor ${c.user_id}: ${c.status.replaceAll("_", " ")}`)));
  }
  for (const e of data.unhandled_events || []) {
    items.push(el("li", { "data-need": "event", "data-event": e.id },
      el("span", { class: "need-kind" }, "Event"), el("span", {}, e.summary)));
  }
  const more = (data.unhandled_events_total || 0) - (data.unhandled_events || []).length;
  if (more > 0) items.push(el("li", { class: "muted" }, `and ${count(more)} more unhandled event(s)`));
  return el("section", { class: "needs" },
    el("h2", {}, "Needs you"),
    items.length ? el("ul", {}, items) : el("p", { class: "muted" }, "Nothing needs you right now."));
}

function openReceivable(app, receivableId, outlet) {
  // Reading is free: the host runs get_receivable, and a host with Apps renders it in the Receivable view.
  return app.sendMessage({
    role: "user",
    content: [{ type: "text", text: `Show receivable ${receivableId} (get_receivable).` }],
  }).then(() => outlet.replaceChildren(el("p", { class: "muted" }, `Asked for ${receivableId}.`)));
}

function render(data, app, root) {
  const outlet = el("div", { class: "outlet", "aria-live": "polite" });
  const statuses = (data.by_status || []).map((s) =>
    el("tr", { "data-status": s.status, "data-count": s.count, "data-amount": s.amount },
      el("th", { scope: "row" }, STATUS_LABELS[s.status] || s.status),
      el("td", { class: "num" }, count(s.count)),
      el("td", { class: "num" }, money(s.amount))));
  root.append(
    el("header", {},
      el("h1", {}, "Recovery portfolio"),
      el("p", { class: "muted" }, `${count(data.receivable_count || 0)} receivable(s)`)),
    el("section", { class: "figures" },
      figure("Outstanding", data.outstanding, "outstanding"),
      figure("Recovered", data.recovered, "recovered"),
      figure("Fees paid", data.fees_paid, "fees_paid"),
      figure("Fees expected", data.fees_expected, "fees_expected")),
    chart(data.ageing || []),
    needsYou(data, app, outlet),
    el("section", {},
      el("h2", {}, "By status"),
      el("table", { class: "statuses" },
        el("thead", {}, el("tr", {}, el("th", {}, "Status"), el("th", { class: "num" }, "Count"),
          el("th", { class: "num" }, "Amount"))),
        el("tbody", {}, statuses))),
    outlet,
  );
}

startView("Cleavr portfolio", render);
