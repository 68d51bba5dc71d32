// Templates and scripts are files under templates/ in the project (found from this file, compiled
// or not), never strings in code. Nothing here imports Pulumi, so renders are pure and testable.
import * as fs from "node:fs";
import * as path from "node:path";
import Handlebars from "handlebars";

/** The project's root, where Pulumi.yaml is: this file runs from components/ or, compiled, bin/components/. */
export const PROJECT_DIR = projectDirAbove(__dirname);

export const TEMPLATES_DIR = path.join(PROJECT_DIR, "templates");

function projectDirAbove(dir: string): string {
    for (let current = dir; ; current = path.dirname(current)) {
        if (fs.existsSync(path.join(current, "Pulumi.yaml"))) return current;
        if (path.dirname(current) === current) throw new Error(`no Pulumi.yaml in ${dir} or above it`);
    }
}

const read = new Map<string, string>();

/** A file under templates/, read once per run: every host's commands carry the same scripts. */
export function readTemplate(relativePath: string): string {
    let text = read.get(relativePath);
    if (text === undefined) {
        text = fs.readFileSync(path.join(TEMPLATES_DIR, relativePath), "utf8");
        read.set(relativePath, text);
    }
    return text;
}

/** A script to run on a host: its file name (for messages) and its text. */
export interface Script {
    readonly name: string;
    readonly text: string;
}

/**
 * A script from templates/scripts, with lib.sh (strict mode and shared helpers) and any
 * other function libraries in front. Scripts take every value from environment variables.
 */
export function loadScript(name: string, libraries: readonly string[] = []): Script {
    const parts = ["lib.sh", ...libraries, name].map((part) => readTemplate(path.join("scripts", part)));
    return { name: path.basename(name), text: parts.join("\n") };
}

const compiled = new Map<string, Handlebars.TemplateDelegate>();

/**
 * Renders a handlebars template. No HTML escaping: the output is nginx config or shell, and
 * every value that reaches it was checked against a strict pattern in config.ts.
 */
export function render(relativePath: string, context: object): string {
    let template = compiled.get(relativePath);
    if (!template) {
        template = Handlebars.compile(readTemplate(relativePath), { noEscape: true, strict: true });
        compiled.set(relativePath, template);
    }
    return template(context);
}
