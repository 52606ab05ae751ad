import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { Meter } from "@opentelemetry/api";

/**
 * The process's own health, under OpenTelemetry's names: CPU time, memory, the V8 heap, and
 * how late the event loop runs (the first thing to look at when every call slows down at
 * once). Returns a function that stops measuring.
 */
export function recordProcessMetrics(meter: Meter): () => void {
  const cpu = meter.createObservableCounter("process.cpu.time", {
    description: "CPU time of this process, by cpu.mode (user, system)",
    unit: "s",
  });
  const memory = meter.createObservableUpDownCounter("process.memory.usage", {
    description: "Resident memory of this process",
    unit: "By",
  });
  const heap = meter.createObservableUpDownCounter("v8js.memory.heap.used", {
    description: "V8 heap in use",
    unit: "By",
  });
  const delay = meter.createObservableGauge("nodejs.eventloop.delay.p99", {
    description: "99th percentile of the event loop's delay since the last collection",
    unit: "s",
  });
  const utilization = meter.createObservableGauge("nodejs.eventloop.utilization", {
    description: "Share of the time since the last collection the event loop was busy, 0 to 1",
    unit: "1",
  });
  const delays = monitorEventLoopDelay({ resolution: 20 });
  delays.enable();
  let lastUtilization = performance.eventLoopUtilization();

  const observe: Parameters<Meter["addBatchObservableCallback"]>[0] = (observer) => {
    const usage = process.cpuUsage();
    observer.observe(cpu, usage.user / 1e6, { "cpu.mode": "user" });
    observer.observe(cpu, usage.system / 1e6, { "cpu.mode": "system" });
    observer.observe(memory, process.memoryUsage.rss());
    observer.observe(heap, process.memoryUsage().heapUsed);
    if (delays.count > 0) observer.observe(delay, delays.percentile(99) / 1e9);
    delays.reset();
    const now = performance.eventLoopUtilization();
    observer.observe(utilization, performance.eventLoopUtilization(now, lastUtilization).utilization);
    lastUtilization = now;
  };
  meter.addBatchObservableCallback(observe, [cpu, memory, heap, delay, utilization]);
  return () => {
    meter.removeBatchObservableCallback(observe, [cpu, memory, heap, delay, utilization]);
    delays.disable();
  };
}
