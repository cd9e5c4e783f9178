/**
 * LIFECYCLE L26 and L29, the checks that need no I/O (lambda/authentic.ts): the ResponseURL's
 * form per partition, its signing time and expiry, the StackId bound at deploy time.
 */
import { checkResponseUrl, cloudFormationDeadline, refusalOf } from '../../lambda/authentic';

const Q = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261201T100000Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=host&X-Amz-Signature=abc';
const SIGNED = Date.UTC(2026, 11, 1, 10, 0, 0);
const STACK = 'arn:aws:cloudformation:us-east-1:111111111111:stack/S/1';

describe('ResponseURL (L29)', () => {
  test.each([
    ['aws', `https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x?${Q}`],
    ['aws', `https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x?${Q}`],
    ['aws', `https://cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com/x?${Q}`],
    ['aws', `https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/x?${Q}`],
    ['aws-us-gov', `https://cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com/x?${Q}`],
    ['aws-cn', `https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x?${Q}`],
    ['aws', 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=1796133600&Signature=abc'],
  ])('L29: a presigned S3 URL of partition %s is CloudFormation\'s: %s', (partition, url) => {
    const checked = checkResponseUrl(url, partition);
    expect(checked.ok).toBe(true);
  });

  test('L29: the signing time and expiry are read from the SigV4 query', () => {
    const checked = checkResponseUrl(`https://b.s3.amazonaws.com/x?${Q}`, 'aws');
    expect(checked).toEqual({ ok: true, value: { signedAt: SIGNED, expiresAt: SIGNED + 7_200_000 } });
  });

  test.each([
    ['plain http', `http://b.s3.amazonaws.com/x?${Q}`, /not https/],
    ['credentials in the URL', `https://user:pw@b.s3.amazonaws.com/x?${Q}`, /credentials/],
    ['a port of its own', `https://b.s3.amazonaws.com:8443/x?${Q}`, /port/],
    ['a host that only starts like S3', `https://b.s3.amazonaws.com.attacker.example/x?${Q}`, /not Amazon S3/],
    ['S3 in the path only', `https://attacker.example/s3.amazonaws.com/x?${Q}`, /not Amazon S3/],
    ['an AWS host that is not S3', `https://lambda.us-east-1.amazonaws.com/x?${Q}`, /not Amazon S3/],
    ['the China domain for the aws partition', `https://b.s3.cn-north-1.amazonaws.com.cn/x?${Q}`, /not Amazon S3 in partition aws/],
    ['not presigned', 'https://b.s3.amazonaws.com/x', /not presigned/],
    ['a signature without a date', 'https://b.s3.amazonaws.com/x?X-Amz-Signature=abc', /X-Amz-Date/],
    ['not a URL', 'nowhere', /not a URL/],
  ])('L29: %s is not CloudFormation\'s', (_name, url, why) => {
    const checked = checkResponseUrl(url, 'aws');
    expect(checked.ok).toBe(false);
    expect((checked as { why: string }).why).toMatch(why);
  });

  test('L26: a SigV2 URL is valid from two hours before its Expires (the signing time it does not carry), to its Expires', () => {
    const expires = 1_796_133_600;
    const checked = checkResponseUrl(`https://b.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=${expires}&Signature=abc`, 'aws');
    expect(checked).toEqual({ ok: true, value: { signedAt: expires * 1000 - 7_200_000, expiresAt: expires * 1000 } });
  });

  test.each([
    ['a SigV4 date that is not a time', `https://b.s3.amazonaws.com/x?${Q.replace('20261201T100000Z', '2026-12-01T10:00:00Z')}`, /X-Amz-Date and X-Amz-Expires/],
    ['a SigV4 expiry that is not a number', `https://b.s3.amazonaws.com/x?${Q.replace('X-Amz-Expires=7200', 'X-Amz-Expires=soon')}`, /X-Amz-Date and X-Amz-Expires/],
    ['a SigV4 expiry of zero', `https://b.s3.amazonaws.com/x?${Q.replace('X-Amz-Expires=7200', 'X-Amz-Expires=0')}`, /X-Amz-Date and X-Amz-Expires/],
    ['a SigV2 Expires that is not a time', 'https://b.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Expires=never&Signature=abc', /Expires is not a time/],
    ['a SigV2 signature without Expires', 'https://b.s3.amazonaws.com/x?AWSAccessKeyId=AKIA&Signature=abc', /not presigned/],
    ['a user name without a password', `https://user@b.s3.amazonaws.com/x?${Q}`, /credentials/],
    ['a host with an s3 label under another domain', `https://b.s3.attacker.example/x?${Q}`, /not Amazon S3/],
    ['a host with an s3 label under amazonaws.com.cn for aws', `https://b.s3.amazonaws.com.cn/x?${Q}`, /not Amazon S3 in partition aws/],
  ])('L26/L29: %s never passes as CloudFormation\'s URL (it would never expire, or is not S3)', (_name, url, why) => {
    const checked = checkResponseUrl(url, 'aws');
    expect(checked.ok).toBe(false);
    expect((checked as { why: string }).why).toMatch(why);
  });

  test('L19/L29: an event whose partition cannot be read is still answered on an S3 host of any known partition, and nowhere else', () => {
    expect(checkResponseUrl(`https://b.s3.amazonaws.com/x?${Q}`, undefined).ok).toBe(true);
    expect(checkResponseUrl(`https://b.s3.cn-north-1.amazonaws.com.cn/x?${Q}`, undefined).ok).toBe(true);
    expect(checkResponseUrl(`https://b.s3.attacker.example/x?${Q}`, undefined).ok).toBe(false);
    expect(checkResponseUrl(`https://lambda.us-east-1.amazonaws.com/x?${Q}`, undefined).ok).toBe(false);
  });

  test('L29: a partition this handler does not know is refused rather than trusted', () => {
    const checked = checkResponseUrl(`https://b.s3.us-isob-east-1.sc2s.sgov.gov/x?${Q}`, 'aws-iso-b');
    expect((checked as { why: string }).why).toMatch(/partition aws-iso-b are not recognised/);
  });

  test('L29: the test-only origin is accepted only when it is configured, and exactly', () => {
    const url = `http://127.0.0.1:9999/r/1?${Q}`;
    expect(checkResponseUrl(url, 'aws').ok).toBe(false);
    expect(checkResponseUrl(url, 'aws', 'http://127.0.0.1:9999').ok).toBe(true);
    expect(checkResponseUrl(url, 'aws', 'http://127.0.0.1:9998').ok).toBe(false);
    expect(checkResponseUrl(url, 'aws', '').ok).toBe(false);
  });
});

describe('refusals (L26, L29)', () => {
  const url = { signedAt: SIGNED, expiresAt: SIGNED + 7_200_000 };
  const base = { stackId: STACK, boundStackId: STACK, url, serviceTimeoutSeconds: 300, now: SIGNED + 1_000 };

  test('L29: the handler\'s own stack, fresh: not refused', () => {
    expect(refusalOf(base)).toBeUndefined();
  });
  test('L29: another stack than the one bound at deploy time is refused', () => {
    expect(refusalOf({ ...base, stackId: 'arn:aws:cloudformation:us-east-1:222222222222:stack/S/1' })).toMatch(/this handler serves/);
  });
  test('L29: without a bound stack ID nothing is trusted', () => {
    expect(refusalOf({ ...base, boundStackId: undefined })).toMatch(/REVOCATION_STACK_ID/);
  });
  test('L26: a request past its ServiceTimeout is refused; within it, it is not', () => {
    expect(refusalOf({ ...base, now: SIGNED + 300_000 })).toBeUndefined();
    expect(refusalOf({ ...base, now: SIGNED + 300_001 })).toMatch(/ServiceTimeout of 300 s has passed/);
  });
  test('L26/L31: CloudFormation stops waiting at the ServiceTimeout after signing, or when the URL expires, whichever is first', () => {
    expect(cloudFormationDeadline(url, 300)).toBe(SIGNED + 300_000);
    expect(cloudFormationDeadline(url, 9_000)).toBe(SIGNED + 7_200_000);
    expect(cloudFormationDeadline(url, undefined)).toBe(SIGNED + 7_200_000);
  });
  test('L26: an expired ResponseURL (a throttled event retried hours later) is refused', () => {
    expect(refusalOf({ ...base, serviceTimeoutSeconds: undefined, now: SIGNED + 6 * 3_600_000 })).toMatch(/expired/);
  });
});
