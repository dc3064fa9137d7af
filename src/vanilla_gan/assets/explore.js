/* vanilla-gan explore: G and D computed in this page, in plain JavaScript (no network, no server).
 *
 * The page embeds (report/explore_page.py writes them):
 *   #vg-model                 JSON: shape [H, W] or [H, W, 3], latent, slope, the networks' layer sizes,
 *                             the latent directions of the sliders, what was left out
 *   #vg-average, #vg-raw, #vg-discriminator   base64 of float16 weights, little-endian: for each Linear layer
 *                             its weight (out, in) row by row, then its bias (out), as PyTorch stores them
 * Each layer is y = W x + b summed in float64 and stored in a Float32Array (float32, like PyTorch's outputs);
 * G: LeakyReLU between layers, Tanh out; D: LeakyReLU between layers (no dropout: eval mode), Sigmoid out.
 * `window.vg` exposes the functions and the state to tests (tests/test_explore.py drives them in Chromium).
 */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const M = JSON.parse($("vg-model").textContent);
  const H = M.shape[0], W = M.shape[1], C = M.shape.length === 3 ? M.shape[2] : 1;
  const PIXELS = H * W * C;

  // ---------------------------------------------------------------- weights: float16 -> float32
  const HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    HALF[h] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity)
      : sign * (1 + f / 1024) * 2 ** (e - 15);
  }

  function decode(id, sizes) {
    const text = atob($(id).textContent.trim());
    const values = new Float32Array(text.length / 2);
    for (let i = 0; i < values.length; i++) {
      values[i] = HALF[text.charCodeAt(2 * i) | (text.charCodeAt(2 * i + 1) << 8)];
    }
    let at = 0;
    return sizes.map(([nin, nout]) => {
      const w = values.subarray(at, at += nin * nout), b = values.subarray(at, at += nout);
      return { nin, nout, w, b };
    });
  }

  const NETS = {};
  for (const [name, net] of Object.entries(M.networks)) NETS[name] = decode(net.id, net.layers);

  // ---------------------------------------------------------------- the networks' forward passes
  function forward(layers, input) {
    let h = input;
    for (let l = 0; l < layers.length; l++) {
      const { nin, nout, w, b } = layers[l], y = new Float32Array(nout), last = l === layers.length - 1;
      for (let o = 0, row = 0; o < nout; o++, row += nin) {
        let s = 0;
        for (let i = 0; i < nin; i++) s += w[row + i] * h[i];
        s += b[o];
        y[o] = last || s > 0 ? s : s * M.slope;  // LeakyReLU between layers
      }
      h = y;
    }
    return h;
  }

  /** G's image for z: Float32Array (H * W * C) in (-1, 1), channels last. which: "average" or "raw". */
  function generate(which, z) {
    const y = forward(NETS[which], z);
    for (let i = 0; i < y.length; i++) y[i] = Math.tanh(y[i]);
    return y;
  }

  /** D's probability that an image (H * W * C values in [-1, 1]) is real; also its logit. */
  function judge(x) {
    const logit = forward(NETS.discriminator, x)[0];
    return { logit, p: 1 / (1 + Math.exp(-logit)) };
  }

  // ---------------------------------------------------------------- noise, walks
  function rng(seed) {  // mulberry32: a small seeded generator, so "new digits" can be drawn again
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function randn(next, n) {  // Box-Muller: z ~ N(0, I), float32
    const z = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - next())), a = 2 * Math.PI * next();
      z[i] = r * Math.cos(a);
      if (i + 1 < n) z[i + 1] = r * Math.sin(a);
    }
    return z;
  }

  function dot(a, b) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; }

  /** Spherical interpolation between z0 and z1 at t, as vanilla_gan.sampling.slerp. */
  function slerp(z0, z1, t) {
    const n0 = Math.sqrt(dot(z0, z0)), n1 = Math.sqrt(dot(z1, z1));
    const omega = Math.acos(Math.min(1, Math.max(-1, dot(z0, z1) / (n0 * n1)))), sin = Math.sin(omega);
    const out = new Float32Array(z0.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.abs(sin) < 1e-6 ? (1 - t) * z0[i] + t * z1[i]
        : (Math.sin((1 - t) * omega) * z0[i] + Math.sin(t * omega) * z1[i]) / sin;
    }
    return out;
  }

  // ---------------------------------------------------------------- drawing images on canvases
  function paint(canvas, y) {
    canvas.width = W; canvas.height = H;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H);
    for (let p = 0; p < H * W; p++) {
      for (let c = 0; c < 3; c++) {
        const v = y[C === 3 ? 3 * p + c : p];
        img.data[4 * p + c] = Math.min(255, Math.max(0, Math.round((v + 1) * 127.5)));
      }
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function canvas(cls) {
    const c = document.createElement("canvas");
    c.className = cls; c.width = W; c.height = H;
    return c;
  }

  const percent = (p) => (100 * p).toFixed(p > 0.001 && p < 0.999 ? 1 : 3) + "%";

  function showVerdict(meter, text, p) {
    meter.style.width = (100 * p).toFixed(1) + "%";
    text.textContent = "D: P(real) = " + percent(p);
  }

  // ---------------------------------------------------------------- state
  const S = {
    seed: 1, grid: [], current: null, a: null, b: null, t: 0.5, walkZ: null,
    shown: {}, drawing: new Float32Array(H * W), drawnInput: null, verdict: null, currentVerdict: null,
  };

  // ---------------------------------------------------------------- 1. new digits: a grid that refills
  const GRID = 16;
  const gridBox = $("vg-grid");
  for (let i = 0; i < GRID; i++) {
    const c = canvas("cell");
    c.title = "click: study this one below";
    c.addEventListener("click", () => select(S.grid[i]));
    gridBox.appendChild(c);
  }

  function refill() {
    const next = rng(S.seed);
    S.grid = [];
    for (let i = 0; i < GRID; i++) {
      S.grid.push(randn(next, M.latent));
      paint(gridBox.children[i], generate("average", S.grid[i]));
    }
    $("vg-seed").textContent = String(S.seed);
  }

  $("vg-new").addEventListener("click", () => { S.seed += 1; refill(); select(S.grid[0]); });

  // ---------------------------------------------------------------- 2. sliders over latent directions
  const sliders = M.directions.map((d, k) => {
    const label = document.createElement("label"), input = document.createElement("input");
    const value = document.createElement("output");
    input.type = "range"; input.min = "-4"; input.max = "4"; input.step = "0.01"; input.id = "vg-slider-" + k;
    label.append("direction " + (k + 1), input, value);
    $("vg-sliders").appendChild(label);
    input.addEventListener("input", () => {
      const target = Number(input.value), now = dot(S.current, d), z = Float32Array.from(S.current);
      for (let i = 0; i < z.length; i++) z[i] += (target - now) * d[i];
      S.current = z;
      showCurrent(k);
    });
    return { input, value };
  });

  function showCurrent(moved) {
    const y = generate("average", S.current);
    S.shown.current = y;
    paint($("vg-current"), y);
    S.currentVerdict = judge(y).p;
    showVerdict($("vg-current-meter"), $("vg-current-verdict"), S.currentVerdict);
    M.directions.forEach((d, k) => {
      const c = dot(S.current, d);
      if (k !== moved) sliders[k].input.value = String(c);
      sliders[k].value.textContent = c.toFixed(2);
    });
    showRaw();
  }

  function select(z) { S.current = Float32Array.from(z); showCurrent(-1); }

  // ---------------------------------------------------------------- 3. walk between two digits
  const strip = $("vg-strip"), FRAMES = 9;
  for (let i = 0; i < FRAMES; i++) {
    const c = canvas("cell");
    c.addEventListener("click", () => { $("vg-t").value = String(i / (FRAMES - 1)); walk(); });
    strip.appendChild(c);
  }

  function walk() {
    S.t = Number($("vg-t").value);
    S.walkZ = slerp(S.a, S.b, S.t);
    S.shown.walk = generate("average", S.walkZ);
    paint($("vg-walk"), S.shown.walk);
    $("vg-t-value").textContent = S.t.toFixed(2);
  }

  function setEnds() {
    paint($("vg-a"), generate("average", S.a));
    paint($("vg-b"), generate("average", S.b));
    for (let i = 0; i < FRAMES; i++) paint(strip.children[i], generate("average", slerp(S.a, S.b, i / (FRAMES - 1))));
    walk();
  }

  $("vg-t").addEventListener("input", walk);
  $("vg-set-a").addEventListener("click", () => { S.a = Float32Array.from(S.current); setEnds(); });
  $("vg-set-b").addEventListener("click", () => { S.b = Float32Array.from(S.current); setEnds(); });

  // ---------------------------------------------------------------- 4. draw an image, ask D
  const pad = $("vg-pad"), brush = M.brush;
  pad.width = W; pad.height = H;
  let last = null;

  function at(event) {  // the pointer in image pixels (the canvas's content box: its border left out)
    const r = pad.getBoundingClientRect();
    return [(event.clientX - r.left - pad.clientLeft) / pad.clientWidth * W,
      (event.clientY - r.top - pad.clientTop) / pad.clientHeight * H];
  }

  function stroke(p, q) {  // a soft-edged line of radius `brush` pixels from p to q, ink in [0, 1]
    const [x0, y0] = p, [x1, y1] = q, dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
    const top = Math.max(0, Math.floor(Math.min(y0, y1) - brush - 1));
    const bottom = Math.min(H - 1, Math.ceil(Math.max(y0, y1) + brush + 1));
    const left = Math.max(0, Math.floor(Math.min(x0, x1) - brush - 1));
    const right = Math.min(W - 1, Math.ceil(Math.max(x0, x1) + brush + 1));
    for (let y = top; y <= bottom; y++) {
      for (let x = left; x <= right; x++) {
        const cx = x + 0.5, cy = y + 0.5;
        const t = length2 ? Math.min(1, Math.max(0, ((cx - x0) * dx + (cy - y0) * dy) / length2)) : 0;
        const d = Math.hypot(cx - x0 - t * dx, cy - y0 - t * dy);
        const ink = Math.min(1, Math.max(0, brush + 0.5 - d));
        if (ink > S.drawing[y * W + x]) S.drawing[y * W + x] = ink;
      }
    }
    ask();
  }

  /** D's verdict on the drawing, as uint8 pixels (like the training images) scaled to [-1, 1]. */
  function ask() {
    const x = new Float32Array(PIXELS);
    for (let p = 0; p < H * W; p++) {
      const v = Math.round(S.drawing[p] * 255) / 127.5 - 1;
      for (let c = 0; c < C; c++) x[p * C + c] = v;
    }
    S.drawnInput = x;
    paint(pad, x);
    S.verdict = judge(x).p;
    showVerdict($("vg-pad-meter"), $("vg-pad-verdict"), S.verdict);
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    try { pad.setPointerCapture(event.pointerId); } catch (_) { /* a synthetic event without a pointer */ }
    last = at(event);
    stroke(last, last);
  });
  pad.addEventListener("pointermove", (event) => {
    if (last === null) return;
    const p = at(event);
    stroke(last, p);
    last = p;
  });
  for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) pad.addEventListener(end, () => { last = null; });
  $("vg-clear").addEventListener("click", () => { S.drawing.fill(0); ask(); });
  $("vg-copy").addEventListener("click", () => {  // G's current image (grey: the mean of its channels)
    const y = S.shown.current;
    for (let p = 0; p < H * W; p++) {
      let v = 0;
      for (let c = 0; c < C; c++) v += y[p * C + c];
      S.drawing[p] = Math.min(1, Math.max(0, (v / C + 1) / 2));
    }
    ask();
  });

  // ---------------------------------------------------------------- 5. the same z through raw G and the average
  function showRaw() {
    if (!NETS.raw) return;
    S.shown.raw = generate("raw", S.current);
    paint($("vg-raw-image"), S.shown.raw);
    paint($("vg-average-image"), S.shown.current);
  }

  // ---------------------------------------------------------------- start
  try {
    refill();
    S.a = S.grid[0]; S.b = S.grid[1];
    select(S.grid[0]);
    setEnds();
    ask();
    document.body.dataset.ready = "1";
  } catch (error) {
    $("vg-error").textContent = "This page could not start: " + error;
    console.error(error);
  }

  const list = (z) => (z ? Array.from(z) : null);
  window.vg = {
    model: M, generate: (which, z) => Array.from(generate(which, Float32Array.from(z))),
    judge: (x) => judge(Float32Array.from(x)), slerp: (a, b, t) => Array.from(slerp(a, b, t)),
    state: () => ({
      seed: S.seed, current: list(S.current), a: list(S.a), b: list(S.b), t: S.t, walkZ: list(S.walkZ),
      shownCurrent: list(S.shown.current), shownRaw: list(S.shown.raw), shownWalk: list(S.shown.walk),
      drawnInput: list(S.drawnInput), verdict: S.verdict, currentVerdict: S.currentVerdict,
      grid: S.grid.map(list),
    }),
  };
})();
