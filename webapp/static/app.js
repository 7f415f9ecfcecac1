// Row selection on the invoice list and the More Action menu. Served as a static file (CSP: script-src 'self').
(function () {
  "use strict";

  function closeMenu(container) {
    const button = container.querySelector(".more-action-button");
    const menu = container.querySelector("[role=menu]");
    button.setAttribute("aria-expanded", "false");
    menu.hidden = true;
  }

  function setupMenu(container) {
    const button = container.querySelector(".more-action-button");
    const menu = container.querySelector("[role=menu]");
    button.addEventListener("click", function () {
      const open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", open ? "false" : "true");
      menu.hidden = open;
      if (!open) {
        const first = menu.querySelector("a[role=menuitem]");
        if (first) first.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (!container.contains(event.target)) closeMenu(container);
    });
    container.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closeMenu(container); button.focus(); }
    });
  }

  function fillMenu(menu, actions) {
    menu.replaceChildren();
    if (actions.length === 0) {
      const li = document.createElement("li");
      li.setAttribute("role", "none");
      const span = document.createElement("span");
      span.setAttribute("role", "menuitem");
      span.setAttribute("aria-disabled", "true");
      span.textContent = "No action for your roles";
      li.appendChild(span);
      menu.appendChild(li);
    }
    actions.forEach(function (action, index) {
      const li = document.createElement("li");
      li.setAttribute("role", "none");
      let item;
      if (action.enabled) {
        item = document.createElement("a");
        item.href = action.href;
        item.textContent = action.name;
      } else {
        item = document.createElement("span");
        item.setAttribute("aria-disabled", "true");
        item.textContent = action.name;
      }
      item.setAttribute("role", "menuitem");
      li.appendChild(item);
      if (!action.enabled) {
        const why = document.createElement("small");
        why.className = "why";
        why.id = "why-" + index;
        why.textContent = action.reason;
        item.setAttribute("aria-describedby", why.id);
        li.appendChild(why);
      }
      menu.appendChild(li);
    });
  }

  function setupSelection(table, listMenu) {
    const button = listMenu.querySelector(".more-action-button");
    const menu = listMenu.querySelector("[role=menu]");
    function select(row) {
      table.querySelectorAll("tbody tr").forEach(function (r) { r.setAttribute("aria-selected", "false"); });
      row.setAttribute("aria-selected", "true");
      fillMenu(menu, JSON.parse(row.dataset.actions || "[]"));
      button.disabled = false;
      button.title = "Actions for invoice " + row.dataset.number;
      closeMenu(listMenu);
    }
    table.querySelectorAll("tbody tr").forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a")) return;
        select(row);
      });
      row.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(row); }
        // From the selected row, Tab goes to More Action (above the table), then on from there as usual.
        if (event.key === "Tab" && !event.shiftKey && row.getAttribute("aria-selected") === "true" && !button.disabled) {
          event.preventDefault();
          button.focus();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // A form that ends something for good asks first (its data-confirm says what happens).
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    document.querySelectorAll(".more-action").forEach(setupMenu);
    const table = document.querySelector("table.selectable");
    const listMenu = document.getElementById("list-more-action");
    if (table && listMenu) setupSelection(table, listMenu);
  });
})();
