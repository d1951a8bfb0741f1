// kofu serve: drag-and-drop, the upload with its progress, the findings filter, deleting runs.
// Plain script, no library, no build step. Loaded with `defer` (the CSP allows no inline script).
"use strict";

(function () {
  const body = document.body;
  const token = body.dataset.token;
  const chosen = new Map(); // relative path -> File (the same path twice: the later one wins)

  function $(id) { return document.getElementById(id); }

  function say(el, text, ok) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("ok", !!ok);
  }

  function showChosen() {
    say($("chosen"), "選択されたファイル：" + chosen.size + " 件");
  }

  function add(file, path) {
    const rel = (path || file.webkitRelativePath || file.name).replace(/^\/+/, "");
    chosen.set(rel, file);
  }

  // --- choosing and dropping ---------------------------------------------------------------
  for (const id of ["pick-files", "pick-folder"]) {
    const input = $(id);
    if (!input) continue;
    input.addEventListener("change", function () {
      for (const f of input.files) add(f);
      showChosen();
    });
  }
  const clear = $("clear-files");
  if (clear) clear.addEventListener("click", function () {
    chosen.clear();
    for (const id of ["pick-files", "pick-folder"]) if ($(id)) $(id).value = "";
    showChosen();
  });

  function readEntry(entry) {
    // A dropped folder: every file under it, with its path relative to what was dropped.
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (f) { add(f, entry.fullPath); resolve(); }, function () { resolve(); });
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        (function next() {
          reader.readEntries(function (batch) {
            if (!batch.length) { Promise.all(all.map(readEntry)).then(function () { resolve(); }); return; }
            all.push(...batch);
            next();
          }, function () { resolve(); });
        })();
      } else {
        resolve();
      }
    });
  }

  const drop = $("drop");
  if (drop) {
    drop.addEventListener("dragover", function (e) { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", function () { drop.classList.remove("over"); });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      drop.classList.remove("over");
      const items = e.dataTransfer.items;
      const entries = [];
      if (items) {
        for (const it of items) {
          const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
          if (entry) entries.push(entry); else if (it.getAsFile()) add(it.getAsFile());
        }
      } else {
        for (const f of e.dataTransfer.files) add(f);
      }
      Promise.all(entries.map(readEntry)).then(showChosen);
    });
  }

  // --- running ---------------------------------------------------------------------------------
  let api = null;
  const form = $("run-form");
  if (form) {
    for (const b of form.querySelectorAll("button[data-api]")) {
      b.addEventListener("click", function () { api = b.dataset.api; });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!chosen.size) { say($("message"), "E916: ファイルかフォルダを選んでください"); return; }
      const fd = new FormData();
      const paths = Array.from(chosen.keys()).sort();
      for (const p of paths) {
        const f = chosen.get(p);
        fd.append("files", f, p);
        fd.append("mtimes", String(f.lastModified || ""));
      }
      const pw = $("passwords");
      fd.append("passwords", pw.value);
      pw.value = ""; // typed once, never shown again
      fd.append("pref", $("pref").value);
      fd.append("level", form.querySelector("input[name=level]:checked").value);
      send(api || $("btn-merge").dataset.api, fd);
    });
  }

  function busy(on) {
    for (const b of document.querySelectorAll("#run-form button")) b.disabled = on;
    $("progress").hidden = !on;
  }

  function setBar(label, done, total) {
    const bar = $("bar");
    bar.max = Math.max(total, 1);
    bar.value = Math.min(done, bar.max);
    say($("progress-text"), label + (total ? "（" + done + " / " + total + "）" : ""));
  }

  function send(url, fd) {
    busy(true);
    say($("message"), "");
    setBar("送信中", 0, 0);
    const xhr = new XMLHttpRequest();
    let poll = null;
    xhr.open("POST", url);
    xhr.setRequestHeader("X-Kofu-Token", token);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) setBar("送信中", Math.round(e.loaded / 1024), Math.round(e.total / 1024));
    };
    xhr.upload.onload = function () {
      setBar("読込中", 0, 0);
      poll = setInterval(function () {
        fetch(body.dataset.progress, { headers: { "X-Kofu-Token": token } })
          .then(function (r) { return r.json(); })
          .then(function (p) { if (p.running) setBar(p.stage, p.done, p.total); })
          .catch(function () {});
      }, 300);
    };
    xhr.onload = function () {
      if (poll) clearInterval(poll);
      let doc = null;
      try { doc = JSON.parse(xhr.responseText); } catch (err) { doc = null; }
      if (xhr.status === 200 && doc && doc.run) {
        setBar("完了", 1, 1);
        window.location.href = doc.run.page;
        return;
      }
      busy(false);
      let e = doc && doc.error ? doc.error : { code: "E999", message: "サーバーから応答がありません（" + xhr.status + "）" };
      if (!(doc && doc.error) && xhr.status === 413) {
        // refused by the HTTP server itself before the application saw the request
        e = { code: "E913", message: "送信されたファイルが大きすぎるか多すぎます。何回かに分けてください" };
      }
      say($("message"), e.code + ": " + e.message);
    };
    xhr.onerror = function () {
      if (poll) clearInterval(poll);
      busy(false);
      say($("message"), "E999: サーバーに接続できません。kofu serve が起動しているか確認してください");
    };
    xhr.send(fd);
  }

  // --- templates -------------------------------------------------------------------------------
  const tform = $("template-form");
  if (tform) {
    tform.addEventListener("submit", function (e) {
      e.preventDefault();
      const msg = $("template-message");
      say(msg, "作成中…");
      $("btn-templates").disabled = true;
      fetch(tform.dataset.api, { method: "POST", body: new FormData(tform), headers: { "X-Kofu-Token": token } })
        .then(function (r) { return r.json().then(function (doc) { return [r.status, doc]; }); })
        .then(function ([status, doc]) {
          $("btn-templates").disabled = false;
          if (status !== 200) { say(msg, doc.error.code + ": " + doc.error.message); return; }
          msg.textContent = doc.files.length + " 件の様式を作成しました：";
          for (const [name, url] of Object.entries(doc.downloads)) {
            const a = document.createElement("a");
            a.href = url;
            a.textContent = name;
            a.id = "template-download";
            a.setAttribute("download", name);
            msg.appendChild(a);
          }
          msg.classList.add("ok");
        })
        .catch(function () { $("btn-templates").disabled = false; say(msg, "E999: サーバーに接続できません"); });
    });
  }

  // --- findings filter -------------------------------------------------------------------------
  const filters = ["filter-muni", "filter-severity", "filter-code"].map($).filter(Boolean);
  function applyFilters() {
    const [muni, severity, code] = ["filter-muni", "filter-severity", "filter-code"].map(function (id) {
      return $(id) ? $(id).value : "";
    });
    let shown = 0;
    for (const tr of document.querySelectorAll("#findings tr[data-code]")) {
      const ok = (!muni || tr.dataset.muni === muni) && (!severity || tr.dataset.severity === severity) &&
        (!code || tr.dataset.code === code);
      tr.hidden = !ok;
      if (ok) shown += 1;
    }
    say($("findings-shown"), "表示 " + shown + " 件");
  }
  for (const f of filters) f.addEventListener("change", applyFilters);
  if (filters.length) applyFilters();

  // --- deleting a past run ---------------------------------------------------------------------
  for (const b of document.querySelectorAll("button.delete")) {
    b.addEventListener("click", function () {
      if (!window.confirm("この実行の記録と、受け取ったファイル・出力をすべて削除します。よろしいですか。")) return;
      fetch(b.dataset.url, { method: "DELETE", headers: { "X-Kofu-Token": token } })
        .then(function (r) { return r.json().then(function (doc) { return [r.status, doc]; }); })
        .then(function ([status, doc]) {
          if (status !== 200) { window.alert(doc.error.code + ": " + doc.error.message); return; }
          const row = b.closest("tr");
          if (row) row.remove();
          if (body.querySelector("#result[data-run='" + doc.deleted + "']")) {
            window.location.href = document.querySelector("header nav a").href;
          }
        });
    });
  }
})();
