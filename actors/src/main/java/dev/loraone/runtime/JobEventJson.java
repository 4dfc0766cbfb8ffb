package dev.loraone.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobEvent;
import java.lang.reflect.RecordComponent;

/**
 * A {@link JobEvent} as one JSON object, {@code {"event":"StepDone","job":"...","step":1,...}}: the
 * record's components by name, numbers as numbers, nested events as objects, everything else as its
 * string; a task's {@code metrics} also appear at the top level ({@code "accuracy"}, {@code "perplexity"}), so readers
 * of one metric need not know the map. {@code loraone finetune --json}, {@code train --json}, {@code node --json} and
 * the service's event stream print this.
 */
public final class JobEventJson {
  private JobEventJson() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  public static String toJson(JobEvent e) {
    return toNode(e).toString();
  }

  public static ObjectNode toNode(JobEvent e) {
    ObjectNode o = JSON.createObjectNode();
    o.put("event", e.getClass().getSimpleName());
    for (RecordComponent c : e.getClass().getRecordComponents()) {
      Object v;
      try {
        v = c.getAccessor().invoke(e);
      } catch (ReflectiveOperationException ex) {
        throw new IllegalStateException(ex);
      }
      if (v instanceof JobEvent inner) o.set(c.getName(), toNode(inner));
      else if (c.getName().equals("metrics") && v instanceof java.util.Map<?, ?> m) {
        o.set("metrics", JSON.valueToTree(m));
        m.forEach((k, x) -> o.set(k.toString(), JSON.valueToTree(x)));
      } else if (v instanceof Number
          || v instanceof Boolean
          || v instanceof java.util.Collection<?>
          || v instanceof java.util.Map<?, ?>) {
        o.set(c.getName(), JSON.valueToTree(v));
      } else {
        o.put(c.getName(), v == null ? null : v.toString());
      }
    }
    return o;
  }
}
