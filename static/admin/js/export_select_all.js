// The export page's "Select all" box (templates/admin/import_export/export.html), bound here: the library binds it
// with an inline onchange attribute, which the Content-Security-Policy (script-src 'self') refuses to run.
// onSelectToggleChange, which ticks or unticks every field, is django-import-export's own
// (import_export/export_selectable_fields.js, loaded before this script by the export form's media).
document.addEventListener("DOMContentLoaded", () => {
  for (const toggle of document.querySelectorAll("input.select-toggle")) {
    toggle.addEventListener("change", onSelectToggleChange);
  }
});
