/* vanilla-gan explore: G and D computed in this page, in plain JavaScript (no network, no server).
 *
 * The page embeds (report/explore_page.py writes them):
 *   #vg-model                 JSON: shape [H, W] or [H, W, 3], latent, slope, the networks' layer sizes,
 *                             the latent directions of the sliders, what was left out
 *   #vg-average, #vg-raw, #vg-discriminator   base64 of float16 weights, little-endian: each network's ops'
 *                             tensors in order, as PyTorch stores them (PARAMS below)
 * Each network is a list of ops (linear, conv, conv_t, batch_norm, activations, ...) in the order its forward pass
 * runs them, as report/explore_page.py found them: the classic MLPs and the conv networks (--g-net/--d-net conv)
 * alike; --d-net mlp+conv is one "sum" op whose parts are the two halves' op lists. D runs in eval mode (no
 * dropout) up to its logit; the page applies the Sigmoid.
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

  // Each op's tensors, in the order report/explore_page.py wrote them (PyTorch's layouts).
  const PARAMS = {
    linear: (o) => [["w", o.nout * o.nin], ["b", o.nout]],
    conv: (o) => [["w", o.cout * o.cin * o.k * o.k], ["b", o.cout]],
    conv_t: (o) => [["w", o.cin * o.cout * o.k * o.k], ["b", o.cout]],
    batch_norm: (o) => [["gamma", o.c], ["beta", o.c], ["mean", o.c], ["var", o.c]],
  };

  function decode(id, ops) {
    const text = atob($(id).textContent.trim());
    const values = new Float32Array(text.length / 2);
    for (let i = 0; i < values.length; i++) {
      values[i] = HALF[text.charCodeAt(2 * i) | (text.charCodeAt(2 * i + 1) << 8)];
    }
    let at = 0;
    const layers = (list) => list.map((op) => {
      const layer = { ...op };
      for (const [name, n] of (PARAMS[op.op] || (() => []))(op)) layer[name] = values.subarray(at, at += n);
      if (op.op === "sum") layer.parts = op.parts.map(layers);  // each part's tensors follow, in order
      return layer;
    });
    return layers(ops);
  }

  const NETS = {};
  for (const [name, net] of Object.entries(M.networks)) NETS[name] = decode(net.id, net.ops);

  // ---------------------------------------------------------------- the networks' forward passes
  // Sums in float64, each layer's output stored in a Float32Array (float32, like PyTorch's outputs). Images
  // inside the conv networks are channels first (C, H, W), as in PyTorch.
  const RUN = {
    linear(o, x) {
      const y = new Float32Array(o.nout);
      for (let j = 0, row = 0; j < o.nout; j++, row += o.nin) {
        let s = 0;
        for (let i = 0; i < o.nin; i++) s += o.w[row + i] * x[i];
        y[j] = s + o.b[j];
      }
      return y;
    },
    conv(o, x) {  // y[co, oy, ox] = b[co] + sum over ci, ky, kx of w[co, ci, ky, kx] x[ci, oy*s - p + ky, ox*s - p + kx]
      const ho = Math.floor((o.height + 2 * o.pad - o.k) / o.stride) + 1, wo = Math.floor((o.width + 2 * o.pad - o.k) / o.stride) + 1;
      const y = new Float32Array(o.cout * ho * wo);
      for (let co = 0; co < o.cout; co++) {
        for (let oy = 0; oy < ho; oy++) {
          for (let ox = 0; ox < wo; ox++) {
            let s = 0;
            for (let ci = 0; ci < o.cin; ci++) {
              for (let ky = 0; ky < o.k; ky++) {
                const iy = oy * o.stride - o.pad + ky;
                if (iy < 0 || iy >= o.height) continue;
                for (let kx = 0; kx < o.k; kx++) {
                  const ix = ox * o.stride - o.pad + kx;
                  if (ix < 0 || ix >= o.width) continue;
                  s += o.w[((co * o.cin + ci) * o.k + ky) * o.k + kx] * x[(ci * o.height + iy) * o.width + ix];
                }
              }
            }
            y[(co * ho + oy) * wo + ox] = s + o.b[co];
          }
        }
      }
      return y;
    },
    conv_t(o, x) {  // each input value x[ci, iy, ix] adds w[ci, co, ky, kx] x to y[co, iy*s - p + ky, ix*s - p + kx]
      const ho = (o.height - 1) * o.stride - 2 * o.pad + o.k, wo = (o.width - 1) * o.stride - 2 * o.pad + o.k;
      const acc = new Float64Array(o.cout * ho * wo);
      for (let ci = 0; ci < o.cin; ci++) {
        for (let iy = 0; iy < o.height; iy++) {
          for (let ix = 0; ix < o.width; ix++) {
            const v = x[(ci * o.height + iy) * o.width + ix];
            for (let co = 0; co < o.cout; co++) {
              for (let ky = 0; ky < o.k; ky++) {
                const oy = iy * o.stride - o.pad + ky;
                if (oy < 0 || oy >= ho) continue;
                for (let kx = 0; kx < o.k; kx++) {
                  const ox = ix * o.stride - o.pad + kx;
                  if (ox < 0 || ox >= wo) continue;
                  acc[(co * ho + oy) * wo + ox] += o.w[((ci * o.cout + co) * o.k + ky) * o.k + kx] * v;
                }
              }
            }
          }
        }
      }
      const y = new Float32Array(acc.length);
      for (let i = 0; i < y.length; i++) y[i] = acc[i] + o.b[Math.floor(i / (ho * wo))];
      return y;
    },
    batch_norm(o, x) {  // eval mode: the running statistics
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const c = Math.floor(i / o.per);
        y[i] = (x[i] - o.mean[c]) / Math.sqrt(o.var[c] + o.eps) * o.gamma[c] + o.beta[c];
      }
      return y;
    },
    leaky_relu: (o, x) => x.map((v) => (v > 0 ? v : v * o.slope)),
    relu: (o, x) => x.map((v) => (v > 0 ? v : 0)),
    tanh: (o, x) => x.map(Math.tanh),
    // One image is a group of one: the std of each feature is 0, sqrt(0 + 1e-8) = 1e-4 with PyTorch's epsilon.
    minibatch_std: (o, x) => Float32Array.of(...x, Math.fround(Math.sqrt(1e-8))),
    sum(o, x) {  // --d-net mlp+conv: each part's logit for the same image, added
      const y = new Float32Array(1);
      for (const part of o.parts) y[0] += forward(part, x)[0];
      return y;
    },
    to_chw: (o, x) => permute(x, x.length / o.channels, o.channels),  // (H*W, C) -> (C, H*W)
    to_hwc: (o, x) => permute(x, o.channels, x.length / o.channels),  // (C, H*W) -> (H*W, C)
  };

  function permute(x, rows, cols) {  // a (rows, cols) matrix transposed
    const y = new Float32Array(x.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c];
    return y;
  }

  function forward(ops, input) {
    let h = Float32Array.from(input);
    for (const op of ops) h = RUN[op.op](op, h);
    return h;
  }

  /** G's image for z: Float32Array (H * W * C) in (-1, 1), channels last. which: "average" or "raw". */
  function generate(which, z) {
    return forward(NETS[which], z);
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

  /** Spherical interpolation between z0 and z1 at t, as vanilla_gan.gan.sampling.slerp. */
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
    rng, randn, paint, canvas, G: (z) => generate("average", z),  // for spot.js
    judge: (x) => judge(Float32Array.from(x)), slerp: (a, b, t) => Array.from(slerp(a, b, t)),
    state: () => ({
      seed: S.seed, current: list(S.current), a: list(S.a), b: list(S.b), t: S.t, walkZ: list(S.walkZ),
      shownCurrent: list(S.shown.current), shownRaw: list(S.shown.raw), shownWalk: list(S.shown.walk),
      drawnInput: list(S.drawnInput), verdict: S.verdict, currentVerdict: S.currentVerdict,
      grid: S.grid.map(list),
    }),
  };
})();
