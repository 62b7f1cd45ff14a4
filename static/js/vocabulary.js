// The vocabulary the server sends (GET /api/vocabulary, fetched by http.js):
// every name the page offers with its label, in the order shown, the range of
// every slider, the bounds the server validates with, the defaults of a new
// session, the hyperparameters each optimizer reads, the datasets on the plane,
// and its limits. The page writes none of these itself: its menus, sliders,
// defaults and checks are built from here.

export class Vocabulary {
  /** doc: {choices, ranges, bounds, defaults, optimizer_hyper, plane_datasets, limits, uploaded_dataset} as the server sent it. */
  constructor(doc) {
    this.doc = doc;
    this.limits = doc.limits;
    this.defaults = doc.defaults;   // {config, hyper}: what a session made without them starts from
    // Every hyperparameter some optimizer reads, once each: the sliders that show or hide with the optimizer.
    this.optimizerFields = [...new Set(Object.values(doc.optimizer_hyper).flat())];
    this.uploaded = new RegExp(doc.uploaded_dataset.pattern);
    this.uploadedLabel = doc.uploaded_dataset.label;
  }

  /** The values of one menu (e.g. "optimizer"), in the order shown. */
  values(key) { return this.doc.choices[key].map((c) => c.value); }

  /** [{value, label}, ...] of one menu. */
  choices(key) { return this.doc.choices[key]; }

  /** The label of a value of one menu; the value itself when it has none (a CSV column, say). */
  label(key, value) {
    const hit = this.doc.choices[key].find((c) => c.value === value);
    return hit ? hit.label : String(value);
  }

  /** A slider's {min, max, step, scale, default} (log10 scale: all of them log10 of the value). */
  range(name) { return this.doc.ranges[name]; }

  /** The {min, max} the server accepts for a numeric field. */
  bounds(name) { return this.doc.bounds[name]; }

  /** The hyperparameters the update of `optimizer` reads (["lr", "momentum"] for "momentum"). */
  hyperOf(optimizer) { return this.doc.optimizer_hyper[optimizer] ?? []; }

  /** Is dataset `name` drawn on the plane (x₁, x₂), so that the feature transforms apply to it? */
  onPlane(name) { return this.doc.plane_datasets.includes(name); }

  /** Is this the name the server gives an uploaded CSV file? */
  isUploaded(name) { return this.uploaded.test(name); }
}
