// Metric values as Kubernetes quantities, the way the custom metrics API carries them
// (resource.Quantity): whole numbers plainly, fractions in milli-units ("1500m"). The HPA
// controller reads them with MilliValue(), so milli-units lose nothing it would use.

/** 2 → "2", 1.5 → "1500m", 0.0004 → "0" (below one milli-unit), -0.25 → "-250m". */
export function metricQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`a metric value must be a finite number, got ${value}`);
  const milli = Math.round(value * 1000);
  if (milli === 0) return '0';
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/**
 * metricQuantity with micro-units where milli-units would round (latencies, ratios): 0.0123456 →
 * "12346u", 0.25 → "250m", 3 → "3".
 */
export function microQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`a metric value must be a finite number, got ${value}`);
  const micro = Math.round(value * 1e6);
  return micro % 1000 === 0 ? metricQuantity(micro / 1e6) : `${micro}u`;
}
