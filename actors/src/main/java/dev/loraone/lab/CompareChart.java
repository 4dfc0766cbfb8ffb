package dev.loraone.lab;

import dev.loraone.lab.CompareResults.CurvePoint;
import dev.loraone.lab.CompareResults.MethodSummary;
import dev.loraone.lab.CompareResults.Report;
import dev.loraone.lab.CompareResults.Stat;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.DeviationRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.YIntervalSeriesCollection;

/**
 * Draws {@code compare.png}: two 760x500 panels side by side, the task's headline metric (accuracy,
 * perplexity, recall@1) and the eval loss against the optimizer step, one line per method at the mean
 * over seeds with a light band from the min to the max seed; a dashed line on the loss panel marks
 * default LoRA's final mean eval loss, the target of the speed measurement. Runs headless.
 */
final class CompareChart {
  static {
    System.setProperty("java.awt.headless", "true");
  }

  private static final int PANEL_WIDTH = 760;
  private static final int PANEL_HEIGHT = 500;
  /** Distinguishable on white, in method order (Tableau 10). */
  private static final Color[] COLORS = {
    new Color(0x4E79A7), new Color(0xE15759), new Color(0xF28E2B), new Color(0x59A14F), new Color(0xB07AA1),
    new Color(0x9C755F), new Color(0x76B7B2), new Color(0xEDC948), new Color(0xFF9DA7), new Color(0xBAB0AC)};

  private CompareChart() {}

  static void write(Report report, Path file) throws IOException {
    Map<String, Object> s = report.settings();
    String budget = String.format("%s steps x %s examples, lr %s; eval on %s examples; mean over seeds,"
        + " band = min..max",
        s.get("train.steps"), s.get("train.batch"), CompareTable.num(s.get("optimizer.lr")), s.get("evalExamples"));
    String h = report.headline();
    List<MethodSummary> summaries = report.summaries();
    JFreeChart left = panel("Eval " + h + (CompareResults.lowerIsBetter(h) ? " (lower is better)" : ""), h, summaries,
        CurvePoint::headline, budget);
    JFreeChart loss = panel("Eval loss", "loss", summaries, CurvePoint::loss, budget);
    report.speed().stream().filter(x -> x.method().equals(CompareResults.BASELINE)).findFirst().ifPresent(x -> {
      ValueMarker target = new ValueMarker(x.target(), Color.GRAY, new BasicStroke(1.2f, BasicStroke.CAP_BUTT,
          BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
      target.setLabel("default LoRA's final eval loss");
      target.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
      target.setLabelTextAnchor(TextAnchor.BOTTOM_RIGHT);
      target.setLabelBackgroundColor(new Color(255, 255, 255, 0));
      loss.getXYPlot().addRangeMarker(target);
    });
    BufferedImage image = new BufferedImage(2 * PANEL_WIDTH, PANEL_HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, image.getWidth(), image.getHeight());
      left.draw(g, new Rectangle2D.Double(0, 0, PANEL_WIDTH, PANEL_HEIGHT));
      loss.draw(g, new Rectangle2D.Double(PANEL_WIDTH, 0, PANEL_WIDTH, PANEL_HEIGHT));
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(image, "png", file.toFile())) throw new IOException("no PNG writer available");
  }

  private static JFreeChart panel(String title, String yLabel, List<MethodSummary> summaries,
      Function<CurvePoint, Stat> value, String subtitle) {
    YIntervalSeriesCollection data = new YIntervalSeriesCollection();
    for (MethodSummary m : summaries) {
      YIntervalSeries series = new YIntervalSeries(m.method().label() + " (" + m.seeds().size() + ")", false, false);
      for (CurvePoint p : m.curve()) {
        Stat s = value.apply(p);
        series.add(p.step(), s.mean(), s.min(), s.max());
      }
      data.addSeries(series);
    }
    JFreeChart chart = ChartFactory.createXYLineChart(title, "step", yLabel, data);
    chart.addSubtitle(new TextTitle(subtitle));
    XYPlot plot = chart.getXYPlot();
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    DeviationRenderer renderer = new DeviationRenderer(true, true);
    renderer.setAlpha(0.10f);
    for (int i = 0; i < summaries.size(); i++) {
      Color c = COLORS[i % COLORS.length];
      renderer.setSeriesPaint(i, c);
      renderer.setSeriesFillPaint(i, c);
      renderer.setSeriesStroke(i, new BasicStroke(summaries.get(i).method().key().equals("head-only") ? 1.5f : 2.2f));
    }
    plot.setRenderer(renderer);
    if (yLabel.equals("perplexity")) { // exp(loss): early steps are orders of magnitude above the end
      LogAxis log = new LogAxis(yLabel);
      log.setStandardTickUnits(NumberAxis.createStandardTickUnits());
      plot.setRangeAxis(log);
    } else {
      ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
    }
    ((NumberAxis) plot.getDomainAxis()).setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    return chart;
  }
}
