// Compare (Processes > Compare): draws each version's diagram with the vendored bpmn-js viewer and marks the elements
// added, changed and removed between them (colours in diagram.css, "Compare" section). Each box names its data block
// in data-compare: {"xml": ..., "added" | "changed" | "removed": [element ids]}.
(function () {
  "use strict";

  const MARKERS = { added: "diff-added", changed: "diff-changed", removed: "diff-removed" };
  const ZOOM_STEP = 1.25;

  function button(label, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  // Zoom out / Zoom in / Fit to screen above the box (the viewer itself moves the diagram when it is dragged).
  function addControls(box, canvas, label) {
    const controls = document.createElement("div");
    controls.className = "diagram-controls";
    controls.setAttribute("role", "group");
    controls.setAttribute("aria-label", "Zoom " + label);
    const zoomBy = function (factor) { canvas.zoom(canvas.zoom() * factor, "auto"); };
    controls.append(
      button("Zoom out", function () { zoomBy(1 / ZOOM_STEP); }),
      button("Zoom in", function () { zoomBy(ZOOM_STEP); }),
      button("Fit to screen", function () { canvas.zoom("fit-viewport", "auto"); })
    );
    const bar = document.createElement("div");
    bar.className = "diagram-bar";
    bar.appendChild(controls);
    box.before(bar);
  }

  function draw(box, data) {
    const viewer = new BpmnJS({ container: box });
    viewer.importXML(data.xml).then(function () {
      const canvas = viewer.get("canvas");
      const registry = viewer.get("elementRegistry");
      Object.keys(MARKERS).forEach(function (kind) {
        (data[kind] || []).forEach(function (id) {
          if (registry.get(id)) canvas.addMarker(id, MARKERS[kind]);
        });
      });
      canvas.zoom("fit-viewport", "auto");
      const title = document.getElementById(box.getAttribute("aria-labelledby"));
      addControls(box, canvas, title ? title.firstChild.textContent.trim() : "diagram");
      box.dataset.rendered = "true";
    }).catch(function (error) {
      box.textContent = "The diagram could not be drawn: " + error.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof BpmnJS === "undefined") return;
    document.querySelectorAll("[data-compare]").forEach(function (box) {
      const holder = document.getElementById(box.dataset.compare);
      if (holder) draw(box, JSON.parse(holder.textContent));
    });
  });
})();
