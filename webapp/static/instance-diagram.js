// Draws a diagram with the vendored bpmn-js viewer, marks where an instance stands (colours in diagram.css) and
// gives it Zoom in / Zoom out / Fit to screen buttons. Used by the admin's instance page and the Processes pages.
(function () {
  "use strict";

  // bpmn-js draws labels at 11-12 px: below MIN_ZOOM they are too small to read, so a diagram wider than its box at
  // MIN_ZOOM opens at MIN_ZOOM around where the instance stands, and is moved by dragging it or with the arrow keys.
  const MIN_ZOOM = 0.75;
  const MAX_ZOOM = 3;
  const LOWEST_ZOOM = 0.1;
  const ZOOM_STEP = 1.25;
  const PADDING = 12; // px kept free around the diagram when it is fitted
  const MIN_HEIGHT = 240;

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

  // The zoom that shows the whole diagram in a box `width` x `height` px (never above 100 %).
  function wholeDiagramZoom(inner, width, height) {
    return Math.min(1, (width - 2 * PADDING) / inner.width, (height - 2 * PADDING) / inner.height);
  }

  // Makes the box as tall as the diagram is at the zoom that fits its width, within MIN_HEIGHT and 75 % of the window.
  function sizeBox(box, canvas) {
    const inner = canvas.viewbox().inner;
    const zoom = Math.max(MIN_ZOOM, Math.min(1, (box.clientWidth - 2 * PADDING) / inner.width));
    const wanted = Math.ceil(inner.height * zoom + 2 * PADDING);
    box.style.height = Math.max(MIN_HEIGHT, Math.min(wanted, Math.round(window.innerHeight * 0.75))) + "px";
    canvas.resized();
  }

  // Where a view `size` long starts on the diagram's [min, max]: centred on the diagram if it shows all of it, else
  // centred on `middle` (the diagram's start when there is none) without going past either end.
  function start(min, max, size, middle, margin) {
    if (size >= max - min) return min - (size - (max - min)) / 2;
    if (middle === null) return min - margin;
    return Math.max(min - margin, Math.min(max + margin - size, middle - size / 2));
  }

  // Shows the whole diagram; with `readable` not below MIN_ZOOM, and then centred on `focus` (a box in the diagram's
  // coordinates: where the instance stands) or else from the diagram's top left corner.
  function fit(canvas, readable, focus) {
    const viewbox = canvas.viewbox();
    const inner = viewbox.inner;
    let zoom = wholeDiagramZoom(inner, viewbox.outer.width, viewbox.outer.height);
    if (readable) zoom = Math.max(zoom, MIN_ZOOM);
    const width = viewbox.outer.width / zoom;
    const height = viewbox.outer.height / zoom;
    const margin = PADDING / zoom;
    canvas.viewbox({
      x: start(inner.x, inner.x + inner.width, width, focus ? focus.x + focus.width / 2 : null, margin),
      y: start(inner.y, inner.y + inner.height, height, focus ? focus.y + focus.height / 2 : null, margin),
      width: width,
      height: height,
    });
  }

  // The box around the elements with these ids, or null when there is none.
  function boxAround(registry, ids) {
    const shapes = ids.map(function (id) { return registry.get(id); }).filter(function (shape) {
      return shape && shape.width !== undefined;
    });
    if (!shapes.length) return null;
    const left = Math.min.apply(null, shapes.map(function (s) { return s.x; }));
    const top = Math.min.apply(null, shapes.map(function (s) { return s.y; }));
    const right = Math.max.apply(null, shapes.map(function (s) { return s.x + s.width; }));
    const bottom = Math.max.apply(null, shapes.map(function (s) { return s.y + s.height; }));
    return { x: left, y: top, width: right - left, height: bottom - top };
  }

  const ARROWS = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };

  // Keys on the focused diagram (bpmn-js itself moves it only with Ctrl + arrow): the arrows move it (Shift: faster),
  // + and - zoom, 0 fits it to the screen.
  function onKeys(svg, act) {
    svg.setAttribute("aria-label", "Diagram: the arrow keys move it, + and - zoom, 0 fits it to the screen");
    svg.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const arrow = ARROWS[event.key];
      if (arrow) {
        const step = event.shiftKey ? 200 : 50;
        act.scroll({ dx: arrow[0] * step, dy: arrow[1] * step });
      } else if (event.key === "+" || event.key === "=") {
        act.zoomIn();
      } else if (event.key === "-") {
        act.zoomOut();
      } else if (event.key === "0") {
        act.fit();
      } else {
        return;
      }
      event.preventDefault();
    });
  }

  function button(label, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  // What the buttons and keys do. `view.fitted` says how the diagram was last fitted ("readable" when drawn, "whole"
  // after Fit to screen), null once the person zoomed or moved it: a resized box is then not fitted again.
  function actions(canvas, view) {
    const zoomBy = function (factor) {
      canvas.zoom(Math.min(MAX_ZOOM, Math.max(LOWEST_ZOOM, canvas.zoom() * factor)), "auto"); // around the middle
      view.fitted = null;
    };
    return {
      zoomIn: function () { zoomBy(ZOOM_STEP); },
      zoomOut: function () { zoomBy(1 / ZOOM_STEP); },
      fit: function () {
        fit(canvas, false);
        view.fitted = "whole";
      },
      scroll: function (delta) {
        canvas.scroll(delta);
        view.fitted = null;
      },
    };
  }

  // The zoom buttons go into the .diagram-bar just above the box (made when the page has none), with the zoom in
  // per cent; a hint under the box says when part of the diagram is outside it. Returns what updates both.
  function addControls(box, canvas, act) {
    let bar = box.previousElementSibling;
    if (!bar || !bar.classList.contains("diagram-bar")) {
      bar = document.createElement("div");
      bar.className = "diagram-bar";
      box.before(bar);
    }
    const controls = document.createElement("div");
    controls.className = "diagram-controls";
    controls.setAttribute("role", "group");
    controls.setAttribute("aria-label", "Diagram zoom");
    const level = document.createElement("span");
    level.className = "diagram-zoom-level";
    level.setAttribute("aria-live", "polite");
    controls.append(level, button("Zoom out", act.zoomOut), button("Zoom in", act.zoomIn), button("Fit to screen", act.fit));
    bar.appendChild(controls);
    const hint = document.createElement("p");
    hint.className = "hint diagram-hint";
    hint.textContent = "Part of the diagram is outside the box: drag it, or select it and use the arrow keys, to see "
      + "the rest. Fit to screen shows all of it.";
    box.after(hint);
    return function update() {
      const viewbox = canvas.viewbox();
      const inner = viewbox.inner;
      const percent = Math.round(viewbox.scale * 100) + " %";
      if (level.textContent !== percent) level.textContent = percent; // announced only when it changes
      hint.hidden = inner.x >= viewbox.x - 1 && inner.y >= viewbox.y - 1
        && inner.x + inner.width <= viewbox.x + viewbox.width + 1
        && inner.y + inner.height <= viewbox.y + viewbox.height + 1;
    };
  }

  function draw(box, data) {
    const viewer = new BpmnJS({ container: box });
    viewer.importXML(data.xml).then(function () {
      const canvas = viewer.get("canvas");
      const registry = viewer.get("elementRegistry");
      const eventBus = viewer.get("eventBus");
      const mark = function (ids, className) {
        (ids || []).forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, className); });
      };
      mark(data.completed, "state-completed");
      mark(data.flows, "state-taken");
      mark(data.failed, "state-failed");
      mark(data.cancelled, "state-cancelled");
      mark(data.ready, "state-ready");
      const focus = boxAround(registry, [].concat(data.ready || [], data.failed || [], data.cancelled || []));
      sizeBox(box, canvas);
      fit(canvas, true, focus);
      const view = { fitted: "readable" };
      const act = actions(canvas, view);
      const update = addControls(box, canvas, act);
      update();
      eventBus.on("canvas.viewbox.changed", update);
      onKeys(box.querySelector("svg"), act);
      const touched = function () { view.fitted = null; };
      box.addEventListener("pointerdown", touched);
      box.addEventListener("wheel", touched, { passive: true });
      // A wider or narrower box (window resized) is fitted again, until the person zooms or moves the diagram.
      let width = box.clientWidth;
      new ResizeObserver(function () {
        if (box.clientWidth === width) return;
        width = box.clientWidth;
        canvas.resized();
        if (view.fitted === "readable") {
          sizeBox(box, canvas);
          fit(canvas, true, focus);
        } else if (view.fitted === "whole") {
          fit(canvas, false);
        }
      }).observe(box);
      box.dataset.rendered = "true";
      eventBus.on("element.click", function (event) {
        const element = event.element;
        if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") return;
        showDetails(element.id, element.businessObject && element.businessObject.name);
      });
    }).catch(function (error) {
      box.textContent = "The diagram could not be drawn: " + error.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const holder = document.getElementById("diagram-data");
    const box = document.getElementById("canvas");
    if (!holder || !box || typeof BpmnJS === "undefined") return;
    draw(box, JSON.parse(holder.textContent));
  });
})();
