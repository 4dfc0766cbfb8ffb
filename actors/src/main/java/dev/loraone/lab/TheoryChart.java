package dev.loraone.lab;

import dev.loraone.core.theory.AlignmentExperiment;
import dev.loraone.core.theory.ConditioningExperiment;
import dev.loraone.core.theory.InitComparisonExperiment;
import dev.loraone.core.theory.LinearModelExperiments.Report;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Draws the curves of {@code loraone theory --plot FILE.png} into one PNG: a grid of two columns
 * of 640x420 panels, one per plot of the experiments that ran, in this order: (a) log risk vs
 * step, (a) alignment angle vs step, (b) log risk vs step, (c) steps to threshold vs kappa
 * (log-log). Points that cannot sit on a log axis (zero, NaN, runs that hit the step cap) are left
 * out. Runs headless.
 */
final class TheoryChart {
  static {
    System.setProperty("java.awt.headless", "true");
  }

  private static final int PANEL_WIDTH = 640;
  private static final int PANEL_HEIGHT = 420;

  private TheoryChart() {}

  /** Rejects a path the PNG could not be written to, before any experiment runs. */
  static void checkWritable(Path file) {
    Path name = file.getFileName();
    if (name == null || !name.toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
      throw new IllegalArgumentException("--plot must name a .png file, got '" + file + "'");
    }
    if (Files.isDirectory(file)) throw new IllegalArgumentException("--plot '" + file + "' is a directory");
    if (Files.exists(file) && !Files.isWritable(file)) {
      throw new IllegalArgumentException("--plot '" + file + "' exists and is not writable");
    }
    Path dir = file.toAbsolutePath().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--plot '" + file + "': directory " + dir + " does not exist");
    }
    if (!Files.isWritable(dir)) {
      throw new IllegalArgumentException("--plot '" + file + "': directory " + dir + " is not writable");
    }
  }

  static void write(Report report, Path file) throws IOException {
    List<JFreeChart> panels = new ArrayList<>();
    if (report.alignment() != null) {
      panels.add(alignmentRisk(report.alignment()));
      panels.add(alignmentAngle(report.alignment()));
    }
    if (report.initComparison() != null) panels.add(initComparisonRisk(report.initComparison()));
    if (report.conditioning() != null) panels.add(conditioningSteps(report.conditioning()));
    int cols = Math.min(2, panels.size());
    int rows = (panels.size() + cols - 1) / cols;
    BufferedImage image = new BufferedImage(cols * PANEL_WIDTH, rows * PANEL_HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, image.getWidth(), image.getHeight());
      for (int i = 0; i < panels.size(); i++) {
        Rectangle2D area = new Rectangle2D.Double(
            (i % cols) * PANEL_WIDTH, (i / cols) * PANEL_HEIGHT, PANEL_WIDTH, PANEL_HEIGHT);
        panels.get(i).draw(g, area);
      }
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(image, "png", file.toFile())) throw new IOException("no PNG writer available");
  }

  private static JFreeChart alignmentRisk(AlignmentExperiment.Result result) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (AlignmentExperiment.Run run : result.runs()) data.addSeries(curve(label(run.variance()), run.risk(), true));
    return logRisk("(a) random init, plain GD: risk", data);
  }

  private static JFreeChart alignmentAngle(AlignmentExperiment.Result result) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (AlignmentExperiment.Run run : result.runs()) data.addSeries(curve(label(run.variance()), run.angle(), false));
    JFreeChart chart = ChartFactory.createXYLineChart("(a) alignment angle ||U_G,perp^T U_A||", "step", "angle", data);
    ((NumberAxis) chart.getXYPlot().getRangeAxis()).setRange(0.0, 1.05);
    return chart;
  }

  private static JFreeChart initComparisonRisk(InitComparisonExperiment.Result result) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (InitComparisonExperiment.Run run : result.runs())
      data.addSeries(curve(run.method().label(), run.risk(), true));
    return logRisk("(b) inits under preconditioned GD: risk", data);
  }

  private static JFreeChart conditioningSteps(ConditioningExperiment.Result result) {
    XYSeries prec = new XYSeries("preconditioned GD");
    XYSeries plain = new XYSeries("plain GD");
    for (ConditioningExperiment.Row row : result.rows()) {
      if (row.preconditionedSteps() > 0) prec.add(row.kappa(), row.preconditionedSteps());
      if (row.plainSteps() > 0) plain.add(row.kappa(), row.plainSteps());
    }
    XYSeriesCollection data = new XYSeriesCollection();
    data.addSeries(prec);
    data.addSeries(plain);
    String title = String.format(Locale.ROOT, "(c) steps to risk <= %.0e vs kappa", result.config().threshold());
    JFreeChart chart = ChartFactory.createXYLineChart(title, "kappa", "steps", data);
    XYPlot plot = chart.getXYPlot();
    plot.setDomainAxis(decades("kappa"));
    plot.setRangeAxis(decades("steps"));
    plot.setRenderer(new XYLineAndShapeRenderer(true, true));
    return chart;
  }

  /** A log axis with ticks at powers of ten, labelled as plain numbers (1, 10, 100). */
  private static LogAxis decades(String label) {
    LogAxis axis = new LogAxis(label);
    axis.setTickUnit(new NumberTickUnit(1.0));
    axis.setNumberFormatOverride(new DecimalFormat("#,##0.##"));
    axis.setMinorTickMarksVisible(true);
    return axis;
  }

  private static JFreeChart logRisk(String title, XYSeriesCollection data) {
    JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "risk", data);
    chart.getXYPlot().setRangeAxis(new LogAxis("risk (log)"));
    return chart;
  }

  /** The finite (and, for a log axis, positive) values of {@code ys} against their step. */
  private static XYSeries curve(String name, double[] ys, boolean logScale) {
    XYSeries series = new XYSeries(name, false, false);
    for (int t = 0; t < ys.length; t++) {
      if (Double.isFinite(ys[t]) && (!logScale || ys[t] > 0)) series.add(t, ys[t], false);
    }
    return series;
  }

  private static String label(double variance) {
    return String.format(Locale.ROOT, "init var %.0e", variance);
  }
}
