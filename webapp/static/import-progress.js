// Administration > Import invoices: the import's progress while the server works through the file.
// The form posts as usual without JavaScript (the page then shows the report when the import is done); with it,
// the same POST asks for application/x-ndjson and the server answers line by line: {"done", "total"} after
// each chunk of rows, then {"report": ...} or {"error": ...}. Text is set with textContent only.
(function () {
  "use strict";

  const form = document.getElementById("import-form");
  if (!form || !window.fetch || !window.TextDecoder) return;
  const progress = document.getElementById("import-progress");
  const status = document.getElementById("import-status");
  const result = document.getElementById("import-result");
  const button = form.querySelector("button[type=submit]");

  function show(text) {
    status.textContent = text;
  }

  function renderReport(report) {
    result.replaceChildren();
    const section = document.createElement("section");
    section.className = "handed";
    section.setAttribute("role", "status");
    const title = document.createElement("h2");
    title.id = "report-title";
    title.textContent = (report.dry_run ? "Dry run, nothing written: " : "Imported: ") + report.summary;
    section.appendChild(title);
    if (report.problems.length) {
      const list = document.createElement("ul");
      list.className = "problems";
      report.problems.forEach(function (problem) {
        const item = document.createElement("li");
        item.textContent = problem;
        list.appendChild(item);
      });
      section.appendChild(list);
    }
    if (report.more) {
      const more = document.createElement("p");
      more.textContent = "… and " + report.more + " more: fix these first and import again.";
      section.appendChild(more);
    }
    result.appendChild(section);
  }

  function handle(message) {
    if (message.total !== undefined) {
      progress.max = Math.max(message.total, 1);
      progress.value = Math.min(message.done, progress.max);
      show(message.done.toLocaleString() + " of " + message.total.toLocaleString() + " rows checked");
    } else if (message.report) {
      progress.value = progress.max;
      show("Done.");
      renderReport(message.report);
    } else if (message.error) {
      show("Nothing was imported. " + message.error);
    }
  }

  form.addEventListener("submit", async function (event) {
    const file = form.querySelector("input[type=file]");
    if (!file.files.length) return; // the server says what to choose
    event.preventDefault();
    button.disabled = true;
    progress.hidden = false;
    progress.removeAttribute("value");
    result.replaceChildren();
    show("Uploading…");
    try {
      const response = await fetch(form.action || window.location.href, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/x-ndjson" },
        credentials: "same-origin",
      });
      if (!response.ok || !response.body) {
        show("The import could not run (HTTP " + response.status + "): reload the page and try again.");
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end).trim();
          buffer = buffer.slice(end + 1);
          if (line) handle(JSON.parse(line));
        }
      }
    } catch (error) {
      show("The connection was lost before the report: import the file again (rows already imported stay unchanged).");
    } finally {
      button.disabled = false;
    }
  });
})();
