// js-yaml ships no types (it comes with @pulumi/pulumi, mocha and eslint); only what is used here.
declare module "js-yaml" {
    /** Parses one YAML document. */
    export function load(text: string): unknown;
}
