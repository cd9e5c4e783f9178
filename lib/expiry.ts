import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Options for the alarm that warns before a key's imported material expires. */
export interface KeyMaterialExpiryAlarmOptions {
  /**
   * How long before the material expires the alarm goes off: its threshold, in seconds, on
   * `SecondsUntilKeyMaterialExpiration`. Leave time to re-import the material (with a later
   * expiry, or none) before KMS deletes it and the key becomes unusable.
   */
  readonly before: Duration;

  /**
   * The period over which the smallest remaining time is taken.
   *
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;

  /**
   * What the alarm does while KMS publishes no data point. KMS publishes the metric only while
   * the key holds imported material that expires: none for material that never expires, none
   * once the material has expired, been revoked or deleted. `IGNORE` keeps the alarm in the state
   * it was in: one that went off before expiry stays in ALARM after the material is gone (until
   * material with a later expiry is imported), and one for material that never expires stays
   * INSUFFICIENT_DATA instead of going off.
   *
   * @default cloudwatch.TreatMissingData.IGNORE
   */
  readonly treatMissingData?: cloudwatch.TreatMissingData;

  /**
   * The alarm's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly alarmName?: string;

  /**
   * The alarm's description.
   *
   * @default - names the key and what to do
   */
  readonly alarmDescription?: string;
}

/**
 * KMS's `SecondsUntilKeyMaterialExpiration` metric and an alarm on it, for any key with imported
 * material (`ExternalKey` has both as methods). KMS publishes it in namespace `AWS/KMS` with the
 * only dimension `KeyId` (the key ID, not its ARN), while the key holds imported material that is
 * set to expire; its most useful statistic is `Minimum`.
 */
export class KeyMaterialExpiration {
  /**
   * The seconds left until the key's imported material expires.
   *
   * @param key the key with imported material (its `keyId` is the metric's dimension)
   * @param props options that override the defaults below
   * @default - minimum over 5 minutes
   */
  public static metricSecondsUntilKeyMaterialExpiration(key: kms.IKey, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/KMS',
      metricName: 'SecondsUntilKeyMaterialExpiration',
      dimensionsMap: { KeyId: key.keyId },
      statistic: 'Minimum',
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * An alarm that goes off `before` the key's imported material expires (remaining seconds less
   * than the threshold). Give it an action (SNS, a pager) to be told.
   *
   * @param scope the alarm's scope
   * @param id the alarm's construct ID
   * @param key the key with imported material
   * @param options when to warn, and the alarm's settings
   */
  public static addExpiryAlarm(scope: Construct, id: string, key: kms.IKey, options: KeyMaterialExpiryAlarmOptions): cloudwatch.Alarm {
    const before = options.before;
    if (!before.isUnresolved() && before.toSeconds() <= 0) {
      throw new Error(`before must be a positive duration, got ${before.toHumanString()}`);
    }
    return new cloudwatch.Alarm(scope, id, {
      metric: KeyMaterialExpiration.metricSecondsUntilKeyMaterialExpiration(key, { period: options.period ?? Duration.minutes(5) }),
      threshold: before.toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.IGNORE,
      alarmName: options.alarmName,
      alarmDescription: options.alarmDescription ?? `The imported key material of KMS key ${key.node.path} expires in less than ` +
        `${before.isUnresolved() ? 'the chosen time' : before.toHumanString()}: re-import the same material with a later expiry ` +
        '(or none) before it expires; once expired, KMS deletes it and the key is unusable until it is re-imported',
    });
  }

  private constructor() {}
}
