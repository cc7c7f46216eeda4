import { describe, expect, it } from "vitest";
import { histogramQuantile, parsePrometheusText, sampleSum } from "./prometheus-text.js";

describe("parsePrometheusText", () => {
  it("reads samples with and without labels, skipping comments", () => {
    const s = parsePrometheusText(
      [
        "# HELP x_total help",
        "# TYPE x_total counter",
        'x_total{a="1",b="two words"} 3',
        'x_total{a="2",b="q\\"uote"} 4',
        "up 1",
        'h_bucket{le="+Inf"} 7',
      ].join("\n"),
    );
    expect(s).toEqual([
      { name: "x_total", labels: { a: "1", b: "two words" }, value: 3 },
      { name: "x_total", labels: { a: "2", b: 'q\\"uote' }, value: 4 },
      { name: "up", labels: {}, value: 1 },
      { name: "h_bucket", labels: { le: "+Inf" }, value: 7 },
    ]);
    expect(sampleSum(s, "x_total")).toBe(7);
    expect(sampleSum(s, "x_total", { a: "2" })).toBe(4);
    expect(sampleSum(s, "missing")).toBe(0);
  });
});

describe("histogramQuantile", () => {
  const b = (entries: Array<[number, number]>) => new Map(entries);
  it("interpolates inside the bucket the rank falls in", () => {
    // 100 observations: 50 ≤ 1, 90 ≤ 2, 100 ≤ 4.
    const h = b([
      [1, 50],
      [2, 90],
      [4, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(histogramQuantile(0.5, h)).toBeCloseTo(1);
    expect(histogramQuantile(0.7, h)).toBeCloseTo(1.5);
    expect(histogramQuantile(0.99, h)).toBeCloseTo(3.8);
  });
  it("answers NaN when empty and the top bound when the rank is in +Inf", () => {
    expect(histogramQuantile(0.5, b([[Number.POSITIVE_INFINITY, 0]]))).toBeNaN();
    expect(
      histogramQuantile(
        0.99,
        b([
          [1, 10],
          [Number.POSITIVE_INFINITY, 100],
        ]),
      ),
    ).toBe(1);
  });
});
