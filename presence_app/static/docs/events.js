// The AsyncAPI React component over this service's own AsyncAPI document; a file, as the page's CSP allows no inline script.
fetch(new URL(window.location.pathname.replace(/\/docs\/events\/?$/, "/asyncapi.json"), window.location.href))
  .then((response) => response.json())
  .then((schema) => AsyncApiStandalone.render(
    { schema, config: { show: { sidebar: true, errors: true } } },
    document.getElementById("asyncapi"),
  ));
