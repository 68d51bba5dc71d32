// The samples of nginx's /metrics (Prometheus' text format), for tests to compare with what
// their load generator counted.

/** Every sample by name and labels as written (`name{a="1",b="2"}`). */
export function metricSamples(text: string): Map<string, number> {
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
        const sample = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (sample) values.set(sample[1], Number(sample[2]));
    }
    return values;
}

/** `after` minus `before` for one sample (0 where neither has it). */
export function delta(before: Map<string, number>, after: Map<string, number>, sample: string): number {
    return (after.get(sample) ?? 0) - (before.get(sample) ?? 0);
}

/**
 * The samples of `internalUrl`/metrics once every worker has flushed what it counted so far (each
 * does every 0.1 s): what was answered before the call is all in, whichever worker answered it.
 */
export async function settledMetrics(internalUrl: string): Promise<Map<string, number>> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const res = await fetch(`${internalUrl}/metrics`);
    return metricSamples(await res.text());
}
