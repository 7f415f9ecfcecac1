// Draws an instance's diagram with the vendored bpmn-js viewer and marks where the instance stands.
(function () {
  "use strict";

  function showDetails(elementId, name) {
    const panel = document.getElementById("element-details");
    const rows = document.querySelectorAll("tr[data-element-id]");
    let matches = 0;
    rows.forEach(function (row) {
      const hit = row.dataset.elementId === elementId;
      row.classList.toggle("selected-element", hit);
      if (hit) matches += 1;
    });
    panel.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = (name || elementId) + " ";
    panel.appendChild(title);
    const text = document.createElement("span");
    text.textContent = matches
      ? "— " + matches + " task run(s), highlighted in the task list below."
      : "— not reached by this instance.";
    panel.appendChild(text);
    const first = document.querySelector("tr.selected-element");
    if (first) first.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const holder = document.getElementById("diagram-data");
    if (!holder || typeof BpmnJS === "undefined") return;
    const data = JSON.parse(holder.textContent);
    const viewer = new BpmnJS({ container: "#canvas" });
    viewer.importXML(data.xml).then(function () {
      const canvas = viewer.get("canvas");
      const registry = viewer.get("elementRegistry");
      const mark = function (ids, className) {
        ids.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, className); });
      };
      mark(data.completed, "state-completed");
      mark(data.flows, "state-taken");
      mark(data.failed, "state-failed");
      mark(data.cancelled || [], "state-cancelled");
      mark(data.ready, "state-ready");
      canvas.zoom("fit-viewport");
      document.getElementById("canvas").dataset.rendered = "true";
      viewer.get("eventBus").on("element.click", function (event) {
        const element = event.element;
        if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") return;
        showDetails(element.id, element.businessObject && element.businessObject.name);
      });
    }).catch(function (error) {
      document.getElementById("canvas").textContent = "The diagram could not be drawn: " + error.message;
    });
  });
})();
