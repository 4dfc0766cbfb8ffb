package dev.loraone.data;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.beans.FeatureDescriptor;
import java.util.Iterator;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Jinja engine of chat templates: jinjava set up as Hugging Face's {@code transformers} sets up
 * Jinja2 for {@code apply_chat_template}.
 *
 * <pre>
 *   HF (Python Jinja2)                        here (jinjava)
 *   trim_blocks, lstrip_blocks                withTrimBlocks, withLstripBlocks
 *   {{- x -}} strips around an expression     LegacyOverrides.withUseTrimmingForNotesAndExpressions
 *   raise_exception(message)                  a global function; {@link #render} reports its message
 *   str methods: s.strip(), s.startswith(x)   {@link PythonStrings} through an EL resolver
 *   | trim                                    Python's str.strip (jinjava's trims only ASCII controls)
 *   loop.first, 'x' in y, m['role'], m.role   jinjava as it is
 * </pre>
 *
 * {@code strftime_now} is deliberately not defined: templates that use it (Llama 3.1+) then fall back
 * to their fixed date, so a row renders to the same text on every worker and every day. Thread-safe:
 * every render has its own interpreter.
 */
final class ChatJinja {

    private static final Jinjava JINJA = create();

    private ChatJinja() {}

    /** The result of one render: the text, or why there is none. */
    record Rendered(String text, String error) {
        boolean failed() {
            return error != null;
        }
    }

    /** Renders {@code template} with {@code context}; any template error fails the render. */
    static Rendered render(String template, Map<String, Object> context) {
        RenderResult r;
        try {
            r = JINJA.renderForResult(template, context);
        } catch (RuntimeException e) {
            return new Rendered(null, "the template could not be rendered: " + e.getMessage());
        }
        if (r.getErrors().isEmpty()) {
            return new Rendered(r.getOutput(), null);
        }
        TemplateError first = r.getErrors().get(0);
        String raised = raised(first.getException());
        if (raised != null) {
            return new Rendered(null, "the template raised an exception: " + raised);
        }
        String where = first.getLineno() > 0 ? " (template line " + first.getLineno() + ")" : "";
        return new Rendered(null, "the template failed" + where + ": " + first.getMessage()
                + (first.getFieldName() == null ? "" : " in '" + first.getFieldName() + "'"));
    }

    /** The message of a {@code raise_exception} call somewhere in {@code e}'s causes, or null. */
    private static String raised(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof Raised r) {
                return r.getMessage();
            }
        }
        return null;
    }

    private static Jinjava create() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringResolver());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        Jinjava jinja = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // {{- x -}} strips whitespace around an expression as Jinja2 does (jinjava's default ignores it)
                .withLegacyOverrides(LegacyOverrides.newBuilder().withUseTrimmingForNotesAndExpressions(true).build())
                .withElResolver(resolver)
                .build());
        jinja.getGlobalContext().registerFunction(
                new ELFunctionDefinition("", "raise_exception", ChatJinja.class, "raiseException", String.class));
        jinja.getGlobalContext().registerFilter(new PythonTrim());
        return jinja;
    }

    /** {@code raise_exception(message)}: HF's template global, which aborts the render. */
    public static String raiseException(String message) {
        throw new Raised(message);
    }

    /** What {@code raise_exception} throws, recognised among the render's errors. */
    private static final class Raised extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Raised(String message) {
            super(message, null, false, false);
        }
    }

    /** Jinja2's {@code trim} filter: Python's {@code str.strip(chars)}. */
    private static final class PythonTrim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            if (var == null) {
                return null;
            }
            String chars = args.length > 0 ? args[0] : null;
            String s = var.toString();
            return PythonStrings.rstrip(PythonStrings.lstrip(s, chars), chars);
        }
    }

    /** Resolves {@code s.name(args)} on strings to {@link PythonStrings}; leaves everything else alone. */
    private static final class PythonStringResolver extends ELResolver {
        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] types, Object[] params) {
            if (base instanceof String s && method instanceof String name && PythonStrings.has(name)) {
                Object result = PythonStrings.call(s, name, params == null ? new Object[0] : params);
                context.setPropertyResolved(true);
                return result;
            }
            return null;
        }

        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            return null;
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
            // read-only: leaves the property unresolved for the next resolver
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return true;
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return null;
        }
    }
}
