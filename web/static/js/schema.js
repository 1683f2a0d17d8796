// What the API accepts, read from its public OpenAPI document: the choices of every select and
// every export form come from the same source as the API's own validation, never a copy here.
import { API } from "./api.js";

const DOCUMENT = "/api/v1/openapi.json";
const LABELS = { user_id: "User id", referrer_user_id: "Referrer user id", reason: "Reason (feature)", feature: "Feature", campaign_id: "Campaign" };

let loading = null;

export function apiSchema() {
  loading ||= fetch(DOCUMENT).then((response) => {
    if (!response.ok) throw new Error(`the API's description answered ${response.status}`);
    return response.json();
  }).then(read);
  return loading;
}

function choices(doc, path, name) {
  return doc.paths[API + path].get.parameters.find((parameter) => parameter.name === name).schema.enum;
}

// A filter is a list of choices, a user id, the campaign (chosen from the campaigns) or text.
function filterKind(name, rule) {
  if (rule.enum) return rule.enum;
  if (name === "campaign_id") return "campaign";
  return rule.anyOf ? "id" : "text";
}

function read(doc) {
  const datasets = {};
  for (const request of doc.components.schemas.ExportRequest.oneOf) {
    const filters = request.properties.filters;
    datasets[request.properties.dataset.const] = {
      dated: (filters.required || []).includes("from"),
      fields: Object.entries(filters.properties)
        .filter(([name]) => name !== "from" && name !== "to")
        .map(([name, rule]) => [name, filterKind(name, rule), LABELS[name]]),
    };
  }
  return {
    exportTypes: doc.components.schemas.ExportRequest.oneOf[0].properties.type.enum,
    granularities: choices(doc, "/tokens/trend", "granularity"),
    metrics: choices(doc, "/users/top", "metric"),
    datasets,
  };
}
