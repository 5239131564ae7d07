// Text panels: the note's equations with this step's shapes and norms, and the weights.

// [name of the value shown, the note's equation (batch first: one example per row)]
const FORWARD = [
  ["A1", "Z1 = X W1ᵀ + b1,  A1 = g(Z1)"],
  ["Z2", "Z2 = A1 W2ᵀ + b2"],
  ["A2", "A2 = σ(Z2)"], // softmax(Z2) for several classes: see drawEquations
];
const BACKWARD = [
  ["dZ2", "dZ2 = A2 − Y"],
  ["dW2", "dW2 = (1/m) dZ2ᵀ A1"],
  ["db2", "db2 = (1/m) Σ dZ2"],
  ["dZ1", "dZ1 = (dZ2 W2) ⊙ g′(Z1)"],
  ["dW1", "dW1 = (1/m) dZ1ᵀ X"],
  ["db1", "db1 = (1/m) Σ dZ1"],
];

const cell = (text, cls) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
};

function row(table, cells, cls) {
  const tr = table.insertRow();
  cells.forEach((c) => tr.append(c));
  if (cls) tr.className = cls;
  return tr;
}

const shape = (s) => (s.length ? `(${s.join(", ")})` : "scalar");

export function drawEquations(panel, eq, activation, classes) {
  const table = document.createElement("table");
  row(table, [cell("the note's equation"), cell("shape"), cell("‖·‖")], "head");
  row(table, [cell(`forward, g = ${activation}, X ${shape(eq.X.shape)}`)], "section");
  FORWARD.forEach(([k, text]) => {
    const equation = classes > 2 ? text.replace("σ(Z2)", "softmax(Z2)") : text;
    row(table, [cell(equation), cell(shape(eq[k].shape)), cell(eq[k].norm.toPrecision(4))]);
  });
  row(table, [cell("J = (1/m) Σ L(A2, Y)", "cost"), cell(""), cell(eq.J.norm.toFixed(6), "cost")]);
  row(table, [cell("backward, from dZ2 = A2 − Y")], "section");
  BACKWARD.forEach(([k, text]) => row(table, [cell(text), cell(shape(eq[k].shape)), cell(eq[k].norm.toPrecision(4))]));
  row(table, [cell("update: W ← W − α dW for W1, b1, W2, b2")], "section");
  panel.replaceChildren(table);
}

let hovered = -1; // the hidden unit under the pointer, kept across redraws

// One row per hidden unit j: W1[j, :], b1[j], and W2[:, j] (its weights out).
export function drawWeights(table, w) {
  const n2 = w.W2.length;
  const head = ["unit", "W1[j,0]", "W1[j,1]", "b1[j]", ...w.W2.map((_, k) => (n2 > 1 ? `W2[${k},j]` : "W2[0,j]"))];
  const rows = [head.map((t) => cell(t))];
  w.W1.forEach((wj, j) => {
    const values = [...wj, w.b1[j], ...w.W2.map((out) => out[j])];
    rows.push([cell(`h${j + 1}`), ...values.map((v) => cell(v.toFixed(3), v < 0 ? "neg" : "pos"))]);
  });
  table.replaceChildren();
  rows.forEach((cells, i) => {
    const tr = row(table, cells);
    if (i) tr.dataset.unit = i - 1;
  });
  highlightUnit(hovered);
}

// Hovering hidden unit j highlights its picture and its row of weights.
export function highlightUnit(j) {
  hovered = j;
  document.querySelectorAll("#neurons figure").forEach((f, k) => f.classList.toggle("hover", k === j));
  document.querySelectorAll("#weights tr").forEach((tr) => tr.classList.toggle("hover", tr.dataset.unit === String(j)));
}
