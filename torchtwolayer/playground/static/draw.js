// Canvas pictures: the decision boundary with the points, one picture per hidden unit, the curves.

export const CLASS_COLORS = [[245, 147, 34], [8, 119, 189], [46, 160, 67], [156, 39, 176], [215, 48, 39], [90, 90, 90]];
const WHITE = [255, 255, 255];

const mix = (a, b, t) => a.map((v, i) => Math.round(v + (b[i] - v) * t));

function bytes(base64) {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

// A size × size picture from a function of the cell index, drawn smoothly over the whole canvas.
function paint(canvas, size, color) {
  const cells = new ImageData(size, size);
  const rgba = cells.data;
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = color(i);
    rgba[4 * i] = r;
    rgba[4 * i + 1] = g;
    rgba[4 * i + 2] = b;
    rgba[4 * i + 3] = 255;
  }
  const small = new OffscreenCanvas(size, size);
  small.getContext("2d").putImageData(cells, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  return ctx;
}

// A2 over the plane: binary, white at p = 1/2 and the class color as p nears 0 or 1;
// several classes, the likeliest class's color, paler where it is less sure.
export function drawBoundary(canvas, boundary, extent, points) {
  const { size, channels } = boundary;
  const data = bytes(boundary.data);
  const n = size * size;
  const ctx = paint(canvas, size, (i) => {
    if (channels === 1) {
      const p = data[i] / 255;
      return mix(WHITE, CLASS_COLORS[p > 0.5 ? 1 : 0], Math.abs(2 * p - 1) * 0.75);
    }
    let best = 0;
    for (let k = 1; k < channels; k++) if (data[k * n + i] > data[best * n + i]) best = k;
    const sure = (data[best * n + i] / 255 - 1 / channels) / (1 - 1 / channels);
    return mix(WHITE, CLASS_COLORS[best % CLASS_COLORS.length], sure * 0.75);
  });
  if (points) drawPoints(ctx, canvas, extent, points);
}

function drawPoints(ctx, canvas, [x0, x1, y0, y1], points) {
  const sx = canvas.width / (x1 - x0), sy = canvas.height / (y1 - y0);
  points.x.forEach(([x, y], i) => {
    const test = points.test[i] === 1;
    ctx.beginPath();
    ctx.arc((x - x0) * sx, (y1 - y) * sy, test ? 4 : 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${CLASS_COLORS[points.label[i] % CLASS_COLORS.length]})`;
    ctx.fill();
    ctx.lineWidth = test ? 1.6 : 0.8;
    ctx.strokeStyle = test ? "#111" : "white";
    ctx.stroke();
  });
}

// A1 of one hidden unit: 128 is A1 = 0 (white), above blue, below orange.
export function drawNeuron(canvas, base64, size) {
  const data = bytes(base64);
  paint(canvas, size, (i) => {
    const v = (data[i] - 127.5) / 127.5;
    return mix(WHITE, CLASS_COLORS[v > 0 ? 1 : 0], Math.min(1, Math.abs(v)));
  });
}

// J (left axis, from 0 to its largest value) and accuracy (right axis, 0 to 1), train and test.
export function drawCurves(canvas, history) {
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const pad = { l: 40, r: 36, t: 22, b: 22 };
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  if (!history.length) return;
  const last = history[history.length - 1][0] || 1;
  let top = 1e-9; // (a loop: spreading a long history into Math.max overflows the stack)
  for (const r of history) for (const v of [r[1], r[2]]) if (Number.isFinite(v) && v > top) top = v;
  const px = (s) => pad.l + (s / last) * (w - pad.l - pad.r);
  const py = (v, max) => h - pad.b - (Math.min(v, max) / max) * (h - pad.t - pad.b);
  ctx.strokeStyle = "#d8dbe2";
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  const series = [
    [1, top, "#0877bd", [], "J train"], [2, top, "#0877bd", [4, 3], "J test"],
    [3, 1, "#f59322", [], "acc train"], [4, 1, "#f59322", [4, 3], "acc test"],
  ];
  series.forEach(([col, max, color, dash, name], k) => {
    ctx.beginPath();
    ctx.setLineDash(dash);
    history.forEach((row, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, px(row[0]), py(row[col], max)));
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fillText(name, pad.l + k * 70, 14);
  });
  ctx.setLineDash([]);
  ctx.fillStyle = "#667";
  ctx.fillText(top.toPrecision(2), 4, pad.t + 4);
  ctx.fillText("0", 28, h - pad.b);
  ctx.fillText("1", w - pad.r + 6, pad.t + 4);
  ctx.fillText(`step ${last}`, w - pad.r - 60, h - 6);
}
