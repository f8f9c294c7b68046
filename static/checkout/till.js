// The till: every action (scan, quantity, void, hold, recall, cancel, pay) goes through one FIFO queue and is
// sent only after the previous answer has been swapped in. A scanner burst is therefore sent in order, one
// request per code, none merged, doubled or dropped, and a payment waits for the scans typed before it.
// Scans are never debounced.
(function () {
  "use strict";

  const till = document.getElementById("till");
  if (!till) return;
  const scanForm = document.getElementById("scan-form");
  const scanInput = document.getElementById("scan");
  const queueState = document.getElementById("queue-state");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  const urls = till.dataset;
  const queue = [];
  let running = false;
  let selectedLine = null;
  // The pay panel as the page first drew it, empty: a basket answer without a panel puts it back, closed.
  const blankPay = payPanel().cloneNode(true);

  function basket() {
    return document.getElementById("basket");
  }

  function payPanel() {
    return document.getElementById("pay-panel");
  }

  function payOpen() {
    const panel = payPanel();
    return panel && !panel.hidden;
  }

  function showQueue() {
    const waiting = queue.length + (running ? 1 : 0);
    queueState.textContent = waiting ? "… " + waiting : "";
    till.dataset.pending = String(waiting);
  }

  function enqueue(url, values) {
    queue.push({ url: url, values: values });
    showQueue();
    if (!running) pump();
  }

  async function pump() {
    running = true;
    while (queue.length) {
      const item = queue.shift();
      showQueue();
      try {
        await send(item);
      } catch (error) {
        // The server may or may not have seen this request: show it rather than resend and risk a double line.
        message("error", till.dataset.networkError + " (" + String(error) + ")");
      }
    }
    running = false;
    showQueue();
  }

  async function send(item) {
    const response = await fetch(item.url, {
      method: "POST",
      body: new URLSearchParams(item.values),
      headers: { "X-CSRFToken": csrf, "HX-Request": "true", "HX-Current-URL": window.location.href },
      credentials: "same-origin",
    });
    // HX-Redirect: the sale is complete, show the receipt. A followed redirect: the session ended, log in again.
    const redirect = response.headers.get("HX-Redirect") || (response.redirected ? response.url : null);
    if (redirect) {
      queue.length = 0;
      window.location.assign(redirect);
      return;
    }
    swapBasket(await response.text());
  }

  function swapBasket(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const fresh = template.content.firstElementChild;
    if (!fresh || fresh.id !== "basket") {
      message("error", till.dataset.unexpected);
      return;
    }
    // A refused payment comes with its panel, open, saying why. An open panel stays open for its cart's new total
    // (F9 pressed before the last scan's answer): the tender typed next goes to the payment, not to the scan
    // field. Any other answer closes and empties the panel.
    const answered = template.content.getElementById("pay-panel");
    const kept = !answered && payOpen() && fresh.dataset.token === basket().dataset.token;
    basket().replaceWith(fresh);
    if (kept) {
      payFor(fresh);
    } else {
      payPanel().replaceWith(answered || blankPay.cloneNode(true));
    }
    if (window.htmx) window.htmx.process(fresh);
    afterSwap(fresh, kept);
  }

  function message(state, text) {
    const el = document.getElementById("till-message");
    el.textContent = text;
    el.className = "message message-" + state;
    basket().dataset.state = state;
    if (state === "error") beep();
  }

  let audio = null;
  function beep() {
    // A distinct low tone for a refused scan, so the cashier hears it without looking up.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator();
      osc.frequency.value = 220;
      osc.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (_error) {
      /* no audio: the red message is still there */
    }
  }

  function lines() {
    return Array.from(basket().querySelectorAll("tr.line"));
  }

  function select(lineId) {
    const rows = lines();
    if (!rows.some((row) => row.dataset.line === lineId)) {
      lineId = rows.length ? rows[rows.length - 1].dataset.line : null;
    }
    selectedLine = lineId;
    rows.forEach((row) => row.classList.toggle("selected", row.dataset.line === lineId));
  }

  function moveSelection(step) {
    const rows = lines();
    const index = rows.findIndex((row) => row.dataset.line === selectedLine);
    const next = rows[Math.min(Math.max(index + step, 0), rows.length - 1)];
    if (next) select(next.dataset.line);
  }

  function afterSwap(fresh, payKept) {
    // The line just scanned becomes the chosen one, so F2/F3 act on what the cashier just saw appear.
    select(fresh.dataset.current || selectedLine);
    if (fresh.dataset.state === "error") beep();
    if (payKept) return; // the cashier is typing in the panel: the focus stays where it is
    if (payOpen()) {
      const field = document.getElementById("manager-username") || document.getElementById("pay-cash");
      field.focus();
    } else {
      scanInput.focus();
    }
  }

  // The panel pays for the basket on screen: its total, which the till checks the basket still comes to (prices
  // may change while it is open), and its cart's token, which makes a retry one sale and which the till checks is
  // still the open cart's. Cash still holding the total filled in follows the new one.
  function payFor(shown) {
    const cash = document.getElementById("pay-cash");
    const total = document.getElementById("pay-total");
    if (cash.value && cash.value === total.textContent.trim()) {
      cash.value = shown.dataset.total;
      if (document.activeElement === cash) cash.select();
    }
    total.textContent = shown.dataset.total;
    payPanel().elements.shown_total.value = shown.dataset.total;
    payPanel().elements.token.value = shown.dataset.token;
  }

  function openPay() {
    payFor(basket());
    payPanel().hidden = false;
    const cash = document.getElementById("pay-cash");
    if (!cash.value) cash.value = basket().dataset.total;
    cash.focus();
    cash.select();
  }

  function closePay() {
    payPanel().hidden = true;
    scanInput.focus();
  }

  scanForm.addEventListener("submit", function (event) {
    event.preventDefault();
    const code = scanInput.value.trim();
    scanInput.value = "";
    // A scanner's trailing Enter or a second Enter sends nothing at all.
    if (code) enqueue(urls.scanUrl, { code: code });
  });

  document.addEventListener("submit", function (event) {
    if (event.target.id !== "pay-panel") return;
    event.preventDefault();
    enqueue(urls.payUrl, new FormData(event.target));
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-action]");
    if (button) {
      const action = button.dataset.action;
      if (action === "add") enqueue(urls.addUrl, { product: button.dataset.product });
      if (action === "recall") enqueue(urls.recallUrl, { cart: button.dataset.cart });
      if (action === "close-pay") closePay();
      return;
    }
    if (!event.target.closest("input, button, a, select, label, textarea, form#pay-panel")) scanInput.focus();
  });

  document.addEventListener("keydown", function (event) {
    const key = event.key;
    if (key === "Escape") {
      event.preventDefault();
      closePay();
    } else if (key === "F2") {
      event.preventDefault();
      const quantity = scanInput.value.trim();
      scanInput.value = "";
      if (selectedLine && quantity) enqueue(urls.quantityUrl, { line: selectedLine, quantity: quantity });
    } else if (key === "F3") {
      event.preventDefault();
      if (selectedLine) enqueue(urls.voidUrl, { line: selectedLine });
    } else if (key === "F4") {
      event.preventDefault();
      enqueue(urls.holdUrl, {});
    } else if (key === "F6") {
      event.preventDefault();
      const held = basket().querySelector("[data-action=recall]");
      if (held) enqueue(urls.recallUrl, { cart: held.dataset.cart });
    } else if (key === "F8") {
      event.preventDefault();
      if (window.confirm(till.dataset.confirmCancel)) enqueue(urls.cancelUrl, {});
    } else if (key === "F9") {
      event.preventDefault();
      openPay();
    } else if ((key === "ArrowUp" || key === "ArrowDown") && document.activeElement === scanInput) {
      event.preventDefault();
      moveSelection(key === "ArrowUp" ? -1 : 1);
    }
  });

  select(null);
  scanInput.focus();
})();
