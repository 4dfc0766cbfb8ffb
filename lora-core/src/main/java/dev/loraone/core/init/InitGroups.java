package dev.loraone.core.init;

import java.util.ArrayList;
import java.util.List;

/**
 * The passes of a gradient estimate under {@code init.memory-budget}: the adapted modules, in model
 * order, cut into contiguous groups whose float64 shard sums fit the budget. Each group is
 * accumulated, factorised and released before the next one starts, so at most one group's sums are
 * alive at a time. Decided from the module shapes, the shard count and the budget alone, so the
 * coordinator, every worker and the single-process run cut the same groups.
 *
 * <pre>
 *   bytes(module)   8 * out * in * shards          (every init shard's float64 sum, as one process holds them)
 *   group           greedy in model order: a module joins the open group while the group's bytes stay
 *                   <= budget; a module larger than the budget alone is a group of its own
 *   budget 0        one group of every module (no bound)
 * </pre>
 * A module's sum is built from the same micro-batches in the same order whatever its group, so the
 * init does not depend on the budget.
 */
public final class InitGroups {
  private InitGroups() {}

  /** Modules {@code [from, to)} in model order; {@code index} counts groups from 0. */
  public record Group(int index, int from, int to) {
    public int size() {
      return to - from;
    }
  }

  /** Bytes of one module's float64 sums over {@code shards} init shards. */
  public static long bytes(int out, int in, int shards) {
    return 8L * out * in * shards;
  }

  /**
   * The groups of modules of {@code shapes} ({@code [out, in]} each, in model order).
   *
   * @param budget bytes allowed for one group's sums over all {@code shards}; 0 = unbounded
   */
  public static List<Group> plan(List<int[]> shapes, int shards, long budget) {
    if (budget < 0) throw new IllegalArgumentException("init.memory-budget=" + budget + " must be >= 0");
    if (shards < 1) throw new IllegalArgumentException("init.shards=" + shards + " must be >= 1");
    List<Group> out = new ArrayList<>();
    int from = 0;
    long used = 0;
    for (int i = 0; i < shapes.size(); i++) {
      long b = bytes(shapes.get(i)[0], shapes.get(i)[1], shards);
      if (budget > 0 && i > from && used + b > budget) {
        out.add(new Group(out.size(), from, i));
        from = i;
        used = 0;
      }
      used += b;
    }
    if (from < shapes.size() || out.isEmpty()) out.add(new Group(out.size(), from, shapes.size()));
    return List.copyOf(out);
  }
}
