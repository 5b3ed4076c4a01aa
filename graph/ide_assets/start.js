// Starts GraphiQL on the gateway's own page: queries over HTTP with the headers typed in the editor,
// subscriptions over graphql-ws with the editor's Authorization header sent in connection_init.
(function () {
  "use strict";

  var endpoint = new URL("/graphql", window.location.href).href;
  var socketEndpoint = endpoint.replace(/^http/, "ws");
  var overHttp = GraphiQL.createFetcher({ url: endpoint });

  function authorizationOf(headers) {
    for (var name in headers || {}) {
      if (name.toLowerCase() === "authorization") return headers[name];
    }
    return undefined;
  }

  // The operation keyword of the operation `name` (or of the document's first one) read from the text:
  // GraphiQL parses the editor after a short pause, so right after an edit its documentAST is the previous
  // text's, and a subscription sent at once would go over HTTP.
  function keywordOf(query, name) {
    var text = query.replace(/#[^\n]*/g, "").replace(/"""[\s\S]*?"""|"(?:\\.|[^"\\])*"/g, '""');
    var pattern = name
      ? new RegExp("\\b(query|mutation|subscription)\\s+" + name + "\\b")
      : /^\s*(query|mutation|subscription)\b/;
    var found = text.match(pattern);
    return found ? found[1] : "query";
  }

  function isSubscription(params, options) {
    var document = options && options.documentAST;
    var current = document && document.loc && document.loc.source && document.loc.source.body === params.query;
    if (!current) return keywordOf(params.query || "", params.operationName) === "subscription";
    return document.definitions.some(function (definition) {
      return (
        definition.kind === "OperationDefinition" &&
        definition.operation === "subscription" &&
        (!params.operationName || (definition.name && definition.name.value === params.operationName))
      );
    });
  }

  function overSocket(params, headers) {
    return {
      subscribe: function (observer) {
        var client = graphqlWs.createClient({
          url: socketEndpoint,
          connectionParams: { authorization: authorizationOf(headers) },
          retryAttempts: 0,
        });
        var stop = client.subscribe(params, {
          next: function (value) { observer.next(value); },
          error: function (error) {
            observer.error(error instanceof Error ? error : new Error(error.reason || "subscription closed"));
          },
          complete: function () { observer.complete(); },
        });
        return {
          unsubscribe: function () {
            stop();
            client.dispose();
          },
        };
      },
    };
  }

  function fetcher(params, options) {
    if (isSubscription(params, options)) return overSocket(params, options && options.headers);
    return overHttp(params, options);
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    })
  );
})();
