// The bounds the API enforces, read once from its own OpenAPI document, so that the forms never
// disagree with the server (a field the form allows longer than the API would only fail later).
let schemas = {};

export async function loadLimits() {
  try {
    const response = await fetch('/openapi.json', { credentials: 'same-origin' });
    if (response.ok) schemas = (await response.json()).components?.schemas ?? {};
  } catch {
    schemas = {}; // the forms then leave the bounds to the API's own error
  }
}

// A bound of a request property: bound('CreateKillTaskRequest', 'name', 'maxLength'). Nullable
// properties keep their bounds inside anyOf.
export function bound(model, property, key) {
  const schema = schemas[model]?.properties?.[property];
  if (!schema) return undefined;
  if (schema[key] !== undefined) return schema[key];
  const variant = (schema.anyOf || []).find((s) => s[key] !== undefined);
  return variant ? variant[key] : undefined;
}
