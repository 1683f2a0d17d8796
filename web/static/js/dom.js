// Small DOM helpers: elements are built with textContent (never innerHTML), so API text is inert.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

// Text that may wrap after "_", "." and "@" (feature names, e-mails) instead of widening its
// column; <wbr> adds no character when the text is copied.
export function breakable(text) {
  return text.split(/(?<=[_.@])/).flatMap((part, index) => (index ? [document.createElement("wbr"), part] : [part]));
}

// A panel shows one state at a time: loading, ready, empty (with why) or error (with the API's message).
export function setPanelState(panel, state, message = "") {
  panel.dataset.state = state;
  panel.setAttribute("aria-busy", state === "loading" ? "true" : "false");
  const status = panel.querySelector(".panel-status");
  status.textContent = message;
  status.className = `panel-status ${state}`;
}

export function errorText(error) {
  if (error.status === 403) return `Your token lacks the admin scope: ${error.message}`;
  return error.status ? `The API answered ${error.status} ${error.code}: ${error.message}` : error.message;
}

// Runs `load` for a panel, dropping answers that arrive after a newer request was made. An
// error offers "Try again", which runs the failed request again.
export function panelLoader(panel, render) {
  let generation = 0;
  const run = async (load) => {
    const mine = ++generation;
    setPanelState(panel, "loading", "Loading…");
    retryButton(panel, null);
    try {
      const result = await load();
      if (mine !== generation) return;
      const emptyReason = render(result);
      setPanelState(panel, emptyReason ? "empty" : "ready", emptyReason || "");
    } catch (error) {
      if (mine !== generation || error.status === 401) return;
      setPanelState(panel, "error", errorText(error));
      retryButton(panel, () => run(load));
    }
  };
  return run;
}

function retryButton(panel, retry) {
  panel.querySelector(":scope > .retry")?.remove();
  if (!retry) return;
  const button = el("button", { type: "button", class: "retry", text: "Try again" });
  button.addEventListener("click", retry);
  panel.querySelector(".panel-status").after(button);
}

// A table scrolls inside its card when it is wider (a focusable region, so the keyboard can
// scroll it too).
export function table(node, headers, rows) {
  node.replaceChildren(
    el("thead", {}, el("tr", {}, headers.map(([label, cls]) => el("th", { scope: "col", class: cls, text: label })))),
    el("tbody", {}, rows),
  );
  const scroller = node.closest(".table-scroll");
  if (scroller && !scroller.hasAttribute("tabindex")) {
    scroller.setAttribute("tabindex", "0");
    scroller.setAttribute("role", "region");
    scroller.setAttribute("aria-label", node.getAttribute("aria-label") || `${node.closest("section")?.querySelector("h2")?.textContent || ""} table`.trim());
  }
}
