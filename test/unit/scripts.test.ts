// The line between TypeScript and shell: each script's declaration (components/scripts.ts)
// against what the script and its libraries say they take, so a renamed variable fails here,
// not on a host.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { SCRIPTS } from "../../components/scripts";
import { TEMPLATES_DIR } from "../../components/templates";

function textOf(file: string): string {
    return fs.readFileSync(path.join(TEMPLATES_DIR, "scripts", file), "utf8");
}

/** Names on the lines that start with `marker` (a `need` call, or an `# optional:` comment), continuations joined. */
function namesAfter(text: string, marker: RegExp): string[] {
    const joined = text.replace(/\\\n\s*/g, " ");
    const names = new Set<string>();
    for (const line of joined.split("\n")) {
        const match = marker.exec(line);
        if (!match) continue;
        for (const word of line.slice(match[0].length).split(/\s+/)) {
            if (/^[A-Z][A-Z0-9_]*$/.test(word)) names.add(word);
            else if (word) break;
        }
    }
    return [...names].sort();
}

describe("script declarations match the scripts' need lines", () => {
    for (const [name, declaration] of Object.entries(SCRIPTS)) {
        it(`${name} (${declaration.file}, after ${["lib.sh", ...declaration.libraries].join(", ")})`, () => {
            const text = ["lib.sh", ...declaration.libraries, declaration.file].map(textOf).join("\n");
            const required = namesAfter(text, /^\s*need /);
            // A variable one file needs and another reads only when set is required.
            const optional = namesAfter(text, /^\s*# optional: /).filter((name) => !required.includes(name));
            assert.deepEqual(required, [...declaration.required].sort(), "required = the need lines");
            assert.deepEqual(optional, [...declaration.optional].sort(), "optional = the # optional: lines");
            // Read means named in code: need lines, and every comment, do not count.
            const code = text
                .replace(/\\\n\s*/g, " ")
                .replace(/^\s*need .*$/gm, "")
                .replace(/(^|\s)#.*$/gm, "");
            for (const variable of [...declaration.required, ...declaration.optional]) {
                assert.match(code, new RegExp(`\\b${variable}\\b`), `${variable} is declared but never read`);
            }
            for (const trigger of declaration.triggers) {
                assert.doesNotMatch(
                    code,
                    new RegExp(`\\b${trigger}\\b`),
                    `${trigger} is a trigger: no script reads it`,
                );
            }
        });
    }

    it("every script under templates/scripts that is not a library is declared", () => {
        const libraries = new Set(Object.values(SCRIPTS).flatMap((d) => d.libraries));
        libraries.add("lib.sh");
        const declared = new Set(Object.values(SCRIPTS).map((d) => d.file));
        const files = fs.readdirSync(path.join(TEMPLATES_DIR, "scripts"), { recursive: true, encoding: "utf8" });
        const scripts = files.filter((f) => f.endsWith(".sh") && !libraries.has(f) && !f.endsWith("-lib.sh"));
        assert.deepEqual(scripts.filter((f) => !declared.has(f)).sort(), []);
    });
});
