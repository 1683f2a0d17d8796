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

// Runs `load` for a panel, dropping answers that arrive after a newer request was made.
export function panelLoader(panel, render) {
  let generation = 0;
  return async (load) => {
    const mine = ++generation;
    setPanelState(panel, "loading", "Loading…");
    try {
      const result = await load();
      if (mine !== generation) return;
      const emptyReason = render(result);
      setPanelState(panel, emptyReason ? "empty" : "ready", emptyReason || "");
    } catch (error) {
      if (mine !== generation || error.status === 401) return;
      setPanelState(panel, "error", errorText(error));
    }
  };
}

export function table(node, headers, rows) {
  node.replaceChildren(
    el("thead", {}, el("tr", {}, headers.map(([label, cls]) => el("th", { scope: "col", class: cls, text: label })))),
    el("tbody", {}, rows),
  );
}
