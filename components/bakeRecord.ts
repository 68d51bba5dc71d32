// The bakes' verdicts: bake-lib.sh's record_bake appends one JSON object per line to bakes/log on
// the nginx host, which its internal listener serves (/bluegreen/bakes). The program reads them
// before each update and keeps them in the stack's `bakes` output, so that `npm run history` says
// why an update's bake failed (the failed update records nothing; the next successful one does).
import { z } from "zod";

const BakeRecord = z.object({
    /** When the bake ended, by the nginx host's clock (ISO, UTC, whole seconds). */
    at: z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
    /** The colour it watched: the new live colour, or a canary's. */
    color: z.enum(["blue", "green"]),
    /** False: over a threshold, traffic went back and the update failed. */
    passed: z.boolean(),
    /** What it saw, as the update printed it. */
    summary: z.string(),
});
export type BakeRecord = z.infer<typeof BakeRecord>;

/** The verdicts kept: the newest of them, bounded so the outputs stay small. */
export const BAKES_KEPT = 100;

/** The well-formed records among `value` (the last update's `bakes` output, or parsed lines). */
export function recordedBakes(value: unknown): BakeRecord[] {
    if (!Array.isArray(value)) return [];
    return value.flatMap((entry) => {
        const parsed = BakeRecord.safeParse(entry);
        return parsed.success ? [parsed.data] : [];
    });
}

/** bakes/log's text as records; a line that is not one (nginx's 404 page, a cut line) is skipped. */
export function parseBakeLog(text: string): BakeRecord[] {
    return recordedBakes(
        text.split("\n").flatMap((line) => {
            try {
                return [JSON.parse(line) as unknown];
            } catch {
                return [];
            }
        }),
    );
}

/** `known` with the records of `seen` it lacks, each once, oldest first. */
export function withBakes(known: readonly BakeRecord[], seen: readonly BakeRecord[]): BakeRecord[] {
    const key = (r: BakeRecord) => `${r.at} ${r.color} ${r.summary}`;
    const have = new Set(known.map(key));
    const added = seen.filter((r) => !have.has(key(r)));
    return [...known, ...added].sort((a, b) => a.at.localeCompare(b.at)).slice(-BAKES_KEPT);
}

/** A verdict as one history cell. */
export function describeBake(record: BakeRecord): string {
    return `${record.passed ? "passed" : "FAILED"}: ${record.summary}`;
}
