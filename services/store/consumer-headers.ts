/** Headers of a dead letter, next to the original message's own. */
export const deadLetterHeaders = Object.freeze({
  subject: 'minitoolstream-dead-letter-subject',
  sequence: 'minitoolstream-dead-letter-sequence',
  consumer: 'minitoolstream-dead-letter-consumer',
  reason: 'minitoolstream-dead-letter-reason',
});
/** Header of every message a configured consumer delivers, and of dead letters: how many times it was delivered. */
export const deliveryCountHeader = 'minitoolstream-delivery-count';
