/* Spot the fake: a person's own two-sample test, in the explore page (report/explore_page.py embeds it after
 * explore.js, whose window.vg gives G and the drawing functions).
 *
 * A round shows N images one at a time (20 by default), exactly half real ones (#vg-real: uint8 pixels of the
 * training images the page embeds) and half drawn by G's moving average from fresh z, in a random order. The
 * person answers "real" or "generated". At the end: their accuracy with a 95% Wilson interval, the exact two-sided
 * binomial test against 50% guessing, the fakes that fooled them, and the classifier's two-sample accuracy.
 * `window.vg.spot` exposes start(n, seed), answer(saidReal) and result() to tests/test_explore.py.
 */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const vg = window.vg, M = vg.model, R = M.real;
  const box = $("vg-spot-play"), shown = $("vg-spot-image");
  if (!vg || !R || !R.count) return;  // the page says why there is no round (explore_page.py)

  const text = atob($("vg-real").textContent.trim());
  const PIXELS = text.length / R.count;
  const real = (i) => {
    const x = new Float32Array(PIXELS);
    for (let p = 0; p < PIXELS; p++) x[p] = text.charCodeAt(i * PIXELS + p) / 127.5 - 1;
    return x;
  };

  let round = null;

  function start(n, seed) {
    n = Math.max(2, Math.min(200, 2 * Math.round((Number(n) || 20) / 2)));
    seed = seed === undefined ? (Date.now() % 2147483647) : seed;
    const next = vg.rng(seed), items = [];
    const indices = Array.from({ length: R.count }, (_, i) => i);
    for (let i = 0; i < n / 2; i++) {
      const k = i % R.count, j = k + Math.floor(next() * (R.count - k));  // distinct while they last
      [indices[k], indices[j]] = [indices[j], indices[k]];
      items.push({ real: true, index: indices[k] });
      items.push({ real: false, z: vg.randn(next, M.latent) });
    }
    for (let i = items.length - 1; i > 0; i--) {  // Fisher-Yates
      const j = Math.floor(next() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
    round = { n, seed, items, answers: [] };
    box.hidden = false;
    $("vg-spot-result").hidden = true;
    show();
  }

  function show() {
    const item = round.items[round.answers.length];
    item.x = item.x || (item.real ? real(item.index) : vg.G(item.z));
    vg.paint(shown, item.x);
    $("vg-spot-count").textContent = `image ${round.answers.length + 1} of ${round.n}`;
  }

  function answer(saidReal) {
    if (!round || round.answers.length >= round.n) return;
    round.answers.push(Boolean(saidReal));
    if (round.answers.length < round.n) show(); else finish();
  }

  function binomialTwoSided(k, n) {  // P(a score at least as far from n/2 as k) when guessing (p = 1/2)
    const far = Math.max(k, n - k);
    let tail = 0, term = Math.pow(0.5, n);  // C(n, 0) / 2^n
    for (let i = 0; i <= n; i++) {
      if (i >= far) tail += term;
      term = term * (n - i) / (i + 1);
    }
    return Math.min(1, k * 2 === n ? 1 : 2 * tail);
  }

  function result() {
    if (!round || round.answers.length < round.n) return null;
    const n = round.n, right = round.items.filter((item, i) => item.real === round.answers[i]).length;
    const p = right / n, z = 1.959964, z2 = z * z;
    const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    const half = z * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
    const pValue = binomialTwoSided(right, n);
    const fooled = round.items.map((item, i) => ({ item, i })).filter(({ item, i }) => !item.real && round.answers[i]);
    const missed = round.items.filter((item, i) => item.real && !round.answers[i]).length;
    return { n, right, accuracy: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), pValue,
             distinguishable: pValue < 0.05, fooledBy: fooled.map(({ i }) => i), realCalledGenerated: missed,
             seed: round.seed };
  }

  function finish() {
    const r = result(), pct = (x) => (100 * x).toFixed(1) + "%";
    $("vg-spot-score").textContent = `You were right on ${r.right} of ${r.n}: ${pct(r.accuracy)} (95% interval ` +
      `${pct(r.low)} to ${pct(r.high)}).`;
    $("vg-spot-verdict").textContent = r.distinguishable
      ? (r.accuracy > 0.5 ? `You can tell G's images from real ones: guessing would score this well or better ` +
          `with probability ${r.pValue.toPrecision(2)} (two-sided binomial test).`
        : `You were wrong more often than guessing would be (p = ${r.pValue.toPrecision(2)}): the fakes look more ` +
          `real to you than the real images.`)
      : `Not distinguishable from guessing at 50% (p = ${r.pValue.toPrecision(2)}, two-sided binomial test): on ` +
        `this round you cannot tell G's images from real ones. A longer round gives a sharper test.`;
    $("vg-spot-c2st").textContent = M.c2st == null
      ? "This checkpoint's last evaluation did not run the classifier's two-sample test (train runs it at the last epoch)."
      : `The classifier's two-sample test tells them apart ${pct(M.c2st)} of the time (real against real: 50%).`;
    const fooledBox = $("vg-spot-fooled");
    fooledBox.replaceChildren();
    for (const i of r.fooledBy) {
      const c = vg.canvas("cell");
      vg.paint(c, round.items[i].x);
      fooledBox.appendChild(c);
    }
    $("vg-spot-fooled-note").textContent = r.fooledBy.length
      ? `The ${r.fooledBy.length} generated image(s) you called real; you called ${r.realCalledGenerated} real ` +
        `one(s) generated.`
      : `No generated image fooled you; you called ${r.realCalledGenerated} real one(s) generated.`;
    box.hidden = true;
    $("vg-spot-result").hidden = false;
  }

  $("vg-spot-start").addEventListener("click", () => start($("vg-spot-n").value));
  $("vg-spot-real").addEventListener("click", () => answer(true));
  $("vg-spot-fake").addEventListener("click", () => answer(false));
  vg.spot = { start, answer, result, state: () => round && { n: round.n, answered: round.answers.length,
    truth: round.items.map((item) => item.real) } };
})();
