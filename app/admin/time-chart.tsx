// A daily time-series chart drawn by uPlot (docs/decisions/031), with its text alternative.
// uPlot draws on a canvas, which assistive technology cannot read, so the canvas is hidden
// from it and every chart carries a one-sentence summary and its numbers as a table. uPlot is
// loaded in the browser only, on first use (its own chunk), and sized to its container; the
// box keeps its height while it loads, so nothing shifts.
import { useEffect, useRef, useState } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** One value per x; null leaves a gap. */
  values: ReadonlyArray<number | null>;
  /** A CSS colour with at least 3:1 contrast on white (WCAG non-text contrast). */
  color: string;
  kind: "bars" | "line" | "rule";
  /** How the table and the tooltip print a value. */
  format?: (value: number) => string;
}

export interface TimeChartProps {
  /** The heading of the figure. */
  title: string;
  /** Says what the chart shows in one sentence (read by screen readers, shown to all). */
  summary: string;
  /** Days as midnight UTC in ms. */
  days: readonly number[];
  series: readonly ChartSeries[];
  /** Fixes the y range, e.g. [0, 100] for percentages. */
  yRange?: [number, number];
  yLabel: string;
  height?: number;
}

const plain = (value: number) => value.toLocaleString("en");
const dayLabel = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function options(props: TimeChartProps, width: number, lib: typeof uPlot): uPlot.Options {
  const bars = lib.paths.bars?.({ size: [0.7, 24] });
  const format = (i: number) => props.series[i - 1]?.format ?? plain;
  return {
    width,
    height: props.height ?? 220,
    // Days, not seconds: uPlot's time axis is in seconds, in UTC like the table.
    tzDate: (ts) => lib.tzDate(new Date(ts * 1000), "Etc/UTC"),
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    legend: { live: true },
    scales: {
      x: { time: true },
      y: props.yRange
        ? { range: props.yRange }
        : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      { stroke: "#5b6170", grid: { stroke: "#eceef2" }, ticks: { stroke: "#d9dce3" } },
      {
        stroke: "#5b6170",
        label: props.yLabel,
        size: 64,
        grid: { stroke: "#eceef2" },
        ticks: { stroke: "#d9dce3" },
        values: (_u, splits) => splits.map((v) => format(1)(v)),
      },
    ],
    series: [
      { label: "Day", value: (_u, v) => (v == null ? "—" : dayLabel(v * 1000)) },
      ...props.series.map((s, i) => ({
        label: s.label,
        stroke: s.color,
        width: s.kind === "rule" ? 2 : s.kind === "bars" ? 1 : 2,
        fill: s.kind === "bars" ? `${s.color}cc` : undefined,
        dash: s.kind === "rule" ? [6, 4] : undefined,
        paths: s.kind === "bars" ? bars : undefined,
        points: { show: s.kind === "line" },
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => (v == null ? "—" : format(i + 1)(v)),
      })),
    ],
  };
}

/** The uPlot canvas: a fixed-height box that fills its width and follows resizes. */
function Canvas(props: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let chart: uPlot | null = null;
    let observer: ResizeObserver | null = null;
    let cancelled = false;
    import("uplot")
      .then(({ default: lib }) => {
        if (cancelled) return;
        const data: uPlot.AlignedData = [
          props.days.map((ms) => ms / 1000),
          ...props.series.map((s) => [...s.values]),
        ];
        chart = new lib(options(props, element.clientWidth || 600, lib), data, element);
        observer = new ResizeObserver(() => {
          chart?.setSize({ width: element.clientWidth, height: props.height ?? 220 });
        });
        observer.observe(element);
      })
      .catch(() => setFailed(true));
    return () => {
      cancelled = true;
      observer?.disconnect();
      chart?.destroy();
    };
  }, [props]);
  return (
    <div ref={box} className="chart-canvas" style={{ minHeight: (props.height ?? 220) + 40 }}>
      {failed ? (
        <p className="muted">The chart could not be drawn; the table below has the numbers.</p>
      ) : null}
    </div>
  );
}

export function TimeChart(props: TimeChartProps) {
  const id = props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return (
    <figure className="card chart" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{props.title}</h3>
      <p id={`${id}-summary`} className="chart-summary">
        {props.summary}
      </p>
      {/* The canvas repeats the table below; assistive technology reads the table. */}
      <div aria-hidden="true">
        <Canvas {...props} />
      </div>
      <details>
        <summary>Show the numbers</summary>
        <div
          className="table-scroll"
          role="region"
          aria-label={`${props.title} per day`}
          tabIndex={0}
        >
          <table>
            <caption className="visually-hidden">{props.title}, per day (UTC)</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {props.series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.days.map((ms, i) => (
                <tr key={ms}>
                  <th scope="row">{dayLabel(ms)}</th>
                  {props.series.map((s) => {
                    const v = s.values[i];
                    return <td key={s.label}>{v == null ? "—" : (s.format ?? plain)(v)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
