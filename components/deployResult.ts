// What deploy-host.sh reports on a line of its output: the instance id its app echoed on
// /health (report_deployed), which the gate then demands of that host.
import { z } from "zod";

export const DEPLOY_RESULT_PREFIX = "bluegreen-deploy ";

const DeployResult = z.object({
    /** INSTANCE_ID as the app's /health echoed it, or "" for an app that does not echo it. */
    instance: z.string().regex(/^[0-9a-f]*$/, "hex digits"),
});

/**
 * The instance id a host's deploy saw its app echo, or "" when it echoes none. A deploy made by
 * an earlier version of the program has no result line: "" as well (nothing to demand).
 */
export function deployedInstance(stdout: string): string {
    const line = stdout
        .split("\n")
        .reverse()
        .find((l) => l.startsWith(DEPLOY_RESULT_PREFIX));
    if (line === undefined) return "";
    let json: unknown;
    try {
        json = JSON.parse(line.slice(DEPLOY_RESULT_PREFIX.length));
    } catch (err) {
        throw new Error(`the deploy's result line is not JSON (${(err as Error).message}): ${line}`);
    }
    const parsed = DeployResult.safeParse(json);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "the line"}: ${i.message}`);
        throw new Error(`the deploy's result line misstates ${problems.join("; ")}: ${line}`);
    }
    return parsed.data.instance;
}
