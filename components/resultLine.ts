// A script's result: one JSON object on a line after a fixed prefix, the last such line of its
// standard output (deployResult.ts, switchResult.ts, hookResult.ts), checked against a schema so
// that a change on either side fails by name.
import { z } from "zod";

/**
 * The last `prefix` line of `stdout`, parsed with `schema`; undefined when there is none. Throws
 * naming `what` and the line when it is not JSON or misstates a field.
 */
export function parseResultLine<T>(stdout: string, prefix: string, schema: z.ZodType<T>, what: string): T | undefined {
    const line = stdout
        .split("\n")
        .reverse()
        .find((l) => l.startsWith(prefix));
    if (line === undefined) return undefined;
    let json: unknown;
    try {
        json = JSON.parse(line.slice(prefix.length));
    } catch (err) {
        throw new Error(`${what} result line is not JSON (${(err as Error).message}): ${line}`);
    }
    // Missing fields first, by name: what an older or newer script on the other side left out.
    if (schema instanceof z.ZodObject) {
        const fields = typeof json === "object" && json !== null ? json : {};
        // A field with a default (one an older script did not print) is not missing.
        const shape = schema.shape as Record<string, z.ZodType>;
        const missing = Object.keys(shape).filter(
            (key) => !(key in fields) && !shape[key].safeParse(undefined).success,
        );
        if (missing.length > 0) throw new Error(`${what} result line lacks ${missing.join(", ")}: ${line}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "the line"}: ${i.message}`);
        throw new Error(`${what} result line misstates ${problems.join("; ")}: ${line}`);
    }
    return parsed.data;
}
