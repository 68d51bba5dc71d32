// Reads `pulumi preview --diff` output (PREVIEW_OUTPUT, or stdin) and prints the nginx config
// lines that would change as Markdown, for a CI job summary.
import * as fs from "node:fs";

// The CLI colours its output; the escape character is what it writes, so it is matched here.
// eslint-disable-next-line no-control-regex
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** The changed lines of the NGINX_CONF input in a preview diff, with a little context. */
export function nginxDiff(previewOutput: string): string[] {
    const lines = previewOutput.replace(ANSI_COLOUR, "").split("\n");
    const start = lines.findIndex((l) => /~ (BLUEGREEN_)?NGINX_CONF\s*:/.test(l));
    if (start < 0) return [];
    const block: string[] = [];
    const indent = /^\s*/.exec(lines[start])?.[0].length ?? 0;
    for (const line of lines.slice(start + 1)) {
        const depth = /^\s*/.exec(line)?.[0].length ?? 0;
        if (line.trim() !== "" && depth <= indent + 2 && !/^\s*[-+]\s/.test(line)) break; // the next property
        const change = /^\s*([-+])\s?(.*)$/.exec(line);
        if (change) block.push(`${change[1]} ${change[2].trim()}`);
        else if (line.trim() === "...") block.push("  ...");
    }
    return block;
}

/** The live colour change in a preview diff (`LIVE_COLOR: "blue" => "green"`), if any. */
export function liveColorChange(previewOutput: string): string | undefined {
    const m = /~ (?:BLUEGREEN_)?LIVE_COLOR\s*:\s*"(\w+)" => "(\w+)"/.exec(previewOutput.replace(ANSI_COLOUR, ""));
    return m ? `${m[1]} → ${m[2]}` : undefined;
}

/** The program's one-line plan (components/plan.ts), if the preview printed it. */
export function planLine(previewOutput: string): string | undefined {
    return /^\s*(Plan: .*)$/m.exec(previewOutput.replace(ANSI_COLOUR, ""))?.[1];
}

export function summary(previewOutput: string): string {
    const diff = nginxDiff(previewOutput);
    const live = liveColorChange(previewOutput);
    const plan = planLine(previewOutput);
    const lines = [live ? `### Live pool: ${live}` : "### Live pool: unchanged", "", ...(plan ? [plan, ""] : [])];
    if (diff.length === 0)
        lines.push(
            "The nginx config does not change" + (live ? " (no-reload switch: no connection is closed)." : "."),
            "",
        );
    else lines.push("nginx config change:", "", "```diff", ...diff, "```", "");
    return lines.join("\n");
}

if (require.main === module) {
    const input = process.env.PREVIEW_OUTPUT ?? fs.readFileSync(0, "utf8");
    process.stdout.write(summary(input));
}
